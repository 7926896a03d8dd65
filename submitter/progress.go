package submitter

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// ShowProgress draws a progress bar of the run on w until ctx ends; the
// caller decides whether w is a terminal.
func ShowProgress(ctx context.Context, w io.Writer, r *Runner) {
	total := max(r.Summary().Items, 1)
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("submitting"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("items"),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	update := func() {
		s := r.Summary()
		if s.Items != total && s.Items > 0 {
			total = s.Items
			bar.ChangeMax64(total)
		}
		desc := s.Phase
		if s.Watch != nil && s.Watch.Active {
			desc = fmt.Sprintf("watching: %d ok, %d failed, %d escalated", s.Watch.Succeeded, s.Watch.Failed, s.Watch.Escalated)
		} else if s.Throttles > 0 {
			desc = fmt.Sprintf("%s (%d throttled)", s.Phase, s.Throttles)
		}
		bar.Describe(desc)
		_ = bar.Set64(s.Done())
	}
	for {
		select {
		case <-ctx.Done():
			update()
			_ = bar.Finish()
			fmt.Fprintln(w)
			return
		case <-tick.C:
			update()
		}
	}
}
