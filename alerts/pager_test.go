package alerts

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPagerPrintsNotifications(t *testing.T) {
	var out bytes.Buffer
	srv := httptest.NewServer(NewPager(&out))
	defer srv.Close()
	post := func(path, body string) int {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/batchwatch/pagerduty", `{"event_action":"trigger","payload":{"summary":"[FIRING:1] BatchwatchJobFailureSpike","severity":"critical","custom_details":{"text":"Failed jobs: 40\n"}},"links":[{"href":"http://grafana/d/x?var-job_queue=etl","text":"Job history"}]}`); c != http.StatusAccepted {
		t.Fatalf("PagerDuty event: %d", c)
	}
	if c := post("/batchwatch/page", `{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"BatchwatchJobFailureSpike","job_queue":"etl"},"annotations":{"failed_jobs":"40","dashboard_url":"http://grafana/d/x"}}]}`); c != http.StatusAccepted {
		t.Fatalf("webhook: %d", c)
	}
	want := `=== PAGE (PagerDuty trigger, severity critical) ===
[FIRING:1] BatchwatchJobFailureSpike
Failed jobs: 40
Link: Job history http://grafana/d/x?var-job_queue=etl

=== /batchwatch/page: firing, 1 alerts ===
[firing] alertname=BatchwatchJobFailureSpike job_queue=etl
  failed_jobs: 40
  dashboard_url: http://grafana/d/x

`
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if c := post("/batchwatch/pagerduty", `not json`); c != http.StatusBadRequest {
		t.Errorf("garbage: %d, want 400", c)
	}
}
