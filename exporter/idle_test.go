package exporter

import (
	"testing"
	"time"
)

func TestIdleBookAttribution(t *testing.T) {
	b := newIdleBook(time.Unix(0, 0))
	b.setCEs(&CapacitySnapshot{
		CEs: []CEInfo{
			{Name: "ec2", Type: "MANAGED", Capacity: "EC2", Cluster: "AWSBatch-ec2-1"},
			{Name: "spot", Type: "MANAGED", Capacity: "SPOT", Cluster: "AWSBatch-spot-1"},
			{Name: "fg", Type: "MANAGED", Capacity: "FARGATE", Cluster: "AWSBatch-fg-1"},
			{Name: "own", Type: "UNMANAGED", Cluster: "own-1"},
		},
		Queues: []QueueInfo{{Name: "q", ComputeEnvironments: []string{"ec2", "spot"}}, {Name: "f", ComputeEnvironments: []string{"fg"}}},
	})
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ms := func(h float64) int64 { return day.Add(time.Duration(h * float64(time.Hour))).UnixMilli() }
	b.add("q", "AWSBatch-spot-1", false, ms(23), ms(25), 4) // half on each day
	b.add("q", "", false, ms(1), ms(2), 1)                  // the queue's first CE
	b.add("q", "AWSBatch-fg-1", true, ms(1), ms(2), 8)      // Fargate: no idle cost
	b.add("f", "", true, ms(1), ms(2), 8)                   // Fargate job, cluster unknown
	b.add("q", "own-1", false, ms(1), ms(2), 16)            // unmanaged: instances not Batch's
	b.add("q", "AWSBatch-ec2-1", false, ms(3), ms(3), 0.5)  // zero length: its day
	got := b.attributed(day, day.AddDate(0, 0, 1))
	if len(got) != 2 || got["spot"] != 2 || got["ec2"] != 1.5 {
		t.Fatalf("day one %v", got)
	}
	got = b.attributed(day.AddDate(0, 0, 1), day.AddDate(0, 0, 2))
	if len(got) != 1 || got["spot"] != 2 {
		t.Fatalf("day two %v", got)
	}
	// Two months later the first days are gone.
	b.add("q", "", false, ms(24*70), ms(24*70+1), 1)
	if got = b.attributed(day, day.AddDate(0, 0, 2)); len(got) != 0 {
		t.Fatalf("old days kept: %v", got)
	}
}
