package submitter

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/time/rate"
)

// DefaultRate is the default client-side budget of Batch requests per
// second: below the account's shared ~50/s so monitors and other teams keep
// some room.
const DefaultRate = 40

// AdaptiveLimiter paces Batch requests: a token bucket at the configured
// rate that backs off multiplicatively when Batch answers 429 (someone else
// is using the account's budget) and climbs back additively on successes.
// It is the *rate.Limiter the awsclient middleware waits on, so retries
// are paced too.
type AdaptiveLimiter struct {
	lim      *rate.Limiter
	max, min float64
	now      func() time.Time

	mu       sync.Mutex
	cur      float64
	lastDrop time.Time
	lastRise time.Time
	drops    int
}

// NewAdaptiveLimiter paces at most rps requests per second. Bursts are not
// allowed: with a burst of 1 the requests are spread evenly, which is what
// the server's own token bucket tolerates best.
func NewAdaptiveLimiter(rps float64, now func() time.Time) *AdaptiveLimiter {
	if now == nil {
		now = time.Now
	}
	return &AdaptiveLimiter{
		lim: rate.NewLimiter(rate.Limit(rps), 1),
		max: rps, min: max(rps/20, 0.5), cur: rps, now: now,
	}
}

// Limiter is the underlying limiter, for awsclient.Options.
func (a *AdaptiveLimiter) Limiter() *rate.Limiter { return a.lim }

// Limit is the current rate.
func (a *AdaptiveLimiter) Limit() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

// Throttled lowers the rate by a quarter, at most once per second: a burst
// of 429s from one congested second is one signal, not many.
func (a *AdaptiveLimiter) Throttled() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if !a.lastDrop.IsZero() && now.Sub(a.lastDrop) < time.Second {
		return
	}
	a.lastDrop = now
	a.drops++
	a.cur = max(a.min, a.cur*0.75)
	a.lim.SetLimitAt(now, rate.Limit(a.cur))
}

// Succeeded raises the rate by 5 % of the maximum, at most once per
// second and not within a second of a throttle, up to the maximum: a slow
// climb back, so the rate settles just under what the account has left.
func (a *AdaptiveLimiter) Succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur >= a.max {
		return
	}
	now := a.now()
	if now.Sub(a.lastDrop) < time.Second || now.Sub(a.lastRise) < time.Second {
		return
	}
	a.lastRise = now
	a.cur = min(a.max, a.cur+a.max/20)
	a.lim.SetLimitAt(now, rate.Limit(a.cur))
}

// Backoffs counts how often the rate was lowered.
func (a *AdaptiveLimiter) Backoffs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.drops
}

// callStats counts Batch HTTP requests and throttles as they happen; the
// awsclient metrics hold the same on /metrics, these feed the summary.
type callStats struct {
	submitCalls atomic.Int64
	listCalls   atomic.Int64
	requests    atomic.Int64
	throttles   atomic.Int64
}

var throttleErrors = retry.IsErrorThrottles(retry.DefaultThrottles)

// isThrottle reports whether err is Batch's 429 TooManyRequestsException
// (or another throttling error).
func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	if throttleErrors.IsErrorThrottle(err).Bool() {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 429 {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "TooManyRequestsException"
}

// isRejection reports whether Batch refused the request for good: a 4xx
// other than throttling, so no job was created.
func isRejection(err error) bool {
	if err == nil || isThrottle(err) {
		return false
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code >= 400 && code < 500 && code != 408
	}
	return false
}

// observe returns a per-call option adding a middleware below the retry
// loop: it sees every HTTP attempt, counts it, and tells the limiter about
// 429s and successes.
func (r *Runner) observe() func(*awsbatch.Options) {
	return func(o *awsbatch.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			mw := middleware.FinalizeMiddlewareFunc("batchwatchSubmitterObserve",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleFinalize(ctx, in)
					if ctx.Err() != nil {
						return out, md, err
					}
					r.calls.requests.Add(1)
					throttled := isThrottle(err)
					if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil && resp.StatusCode == 429 {
						throttled = true
					}
					switch {
					case throttled:
						r.calls.throttles.Add(1)
						if r.opts.Limiter != nil {
							r.opts.Limiter.Throttled()
						}
					case err == nil && r.opts.Limiter != nil:
						r.opts.Limiter.Succeeded()
					}
					return out, md, err
				})
			if _, ok := s.Finalize.Get("Retry"); ok {
				return s.Finalize.Insert(mw, "Retry", middleware.After)
			}
			return s.Finalize.Add(mw, middleware.After)
		})
	}
}

// submitRetries is the per-call option of SubmitJob: the SDK retries only
// what surely created no job (see Runner.submitUnit).
func submitRetries(o *awsbatch.Options) {
	if o.Retryer != nil {
		o.Retryer = safeRetryer{o.Retryer}
	}
}

// safeRetryer keeps a retryer's attempts and backoff but retries only
// throttling and connections that were never established. Its default
// would retry a connection reset after the request was sent, which can
// submit a job twice.
type safeRetryer struct{ aws.Retryer }

func (s safeRetryer) IsErrorRetryable(err error) bool {
	if isThrottle(err) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// GetAttemptToken implements aws.RetryerV2 for retryers that do.
func (s safeRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := s.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return s.Retryer.GetInitialToken(), nil
}

// throttleBackoff is how long to wait before submitting again a request
// whose SDK retries all met 429: the budget is busy, so back off well
// beyond the SDK's own waits, with jitter from the caller.
func throttleBackoff(n int) time.Duration {
	d := time.Second << min(n, 5)
	return min(d, 30*time.Second)
}
