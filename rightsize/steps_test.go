package rightsize

import "testing"

func TestRoundEC2(t *testing.T) {
	for _, tc := range []struct {
		vcpus, mib float64
		want       Request
	}{
		{0.1, 10, Request{1, 256}},
		{1, 256, Request{1, 256}},
		{1.01, 257, Request{2, 512}},
		{3.5, 4000, Request{4, 4096}},
		{2, 4096, Request{2, 4096}},
	} {
		if got := RoundEC2(tc.vcpus, tc.mib); got != tc.want {
			t.Errorf("RoundEC2(%v, %v) = %+v, want %+v", tc.vcpus, tc.mib, got, tc.want)
		}
	}
}

func TestRoundFargate(t *testing.T) {
	for _, tc := range []struct {
		vcpus, mib float64
		want       Request
	}{
		{0.1, 100, Request{0.25, 512}},
		{0.25, 1500, Request{0.25, 2048}}, // 1536 is not a Fargate size
		{0.25, 2049, Request{0.5, 3072}},
		{0.3, 100, Request{0.5, 1024}},
		{1, 9000, Request{2, 9216}},
		{2, 100, Request{2, 4096}},
		{4, 31000, Request{8, 32768}},
		{9, 1000, Request{16, 32768}},
		{16, 122880, Request{16, 122880}},
	} {
		got, err := RoundFargate(tc.vcpus, tc.mib)
		if err != nil || got != tc.want {
			t.Errorf("RoundFargate(%v, %v) = %+v %v, want %+v", tc.vcpus, tc.mib, got, err, tc.want)
		}
	}
	if _, err := RoundFargate(17, 1000); err == nil {
		t.Error("17 vCPUs on Fargate: no error")
	}
	if _, err := RoundFargate(1, 200000); err == nil {
		t.Error("195 GiB on Fargate: no error")
	}
}
