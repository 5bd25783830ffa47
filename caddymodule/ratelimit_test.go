package caddymodule

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestLimitersForgetIdleBuckets(t *testing.T) {
	l := newLimiters(Rate{Events: 2, Window: caddy.Duration(time.Second)})
	t0 := time.Unix(1_800_000_000, 0)
	for _, key := range []string{"a", "b", "c"} {
		if ok, _ := l.allow(key, t0); !ok {
			t.Fatalf("first event of %s refused", key)
		}
	}
	l.allow("a", t0)
	if ok, wait := l.allow("a", t0); ok || wait <= 0 {
		t.Fatalf("third event within the window: ok=%v wait=%v", ok, wait)
	}
	// Still active one idle period later: "a" survives the rotation, the
	// others are dropped at the next one.
	t1 := t0.Add(l.idle)
	l.allow("a", t1)
	if n := l.size(); n != 3 {
		t.Fatalf("after one rotation: %d buckets, want 3 (a current, b and c previous)", n)
	}
	l.allow("a", t1.Add(l.idle))
	if n := l.size(); n != 1 {
		t.Fatalf("after two rotations: %d buckets, want 1", n)
	}
}

// TestLimitersSurviveReload: a reload provisions new handlers before the old
// ones are cleaned up; they share the buckets, so an exhausted key stays
// limited.
func TestLimitersSurviveReload(t *testing.T) {
	r := Rate{Events: 1, Window: caddy.Duration(time.Minute)}
	old, err := loadLimiters("key", r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ok, _ := old.allow("key_x", now); !ok {
		t.Fatal("first event refused")
	}
	reloaded, err := loadLimiters("key", r)
	if err != nil {
		t.Fatal(err)
	}
	releaseLimiters(old)
	if ok, _ := reloaded.allow("key_x", now); ok {
		t.Fatal("a reload handed the key a fresh allowance")
	}
	releaseLimiters(reloaded)
	fresh, _ := loadLimiters("key", r)
	defer releaseLimiters(fresh)
	if fresh == reloaded {
		t.Fatal("limiters kept after the last handler released them")
	}
}

// TestDeniedReasonCounted: a reason missing from the pre-resolved table is
// still counted.
func TestDeniedReasonCounted(t *testing.T) {
	for _, reason := range []string{"scope", "a_reason_nobody_listed"} {
		before := counterValue(t, requestsVec.WithLabelValues("denied", "bearer", reason))
		deniedCounter(credBearer, reason).Inc()
		if after := counterValue(t, requestsVec.WithLabelValues("denied", "bearer", reason)); after != before+1 {
			t.Errorf("%s: counter %v → %v", reason, before, after)
		}
	}
}

func TestAdminError(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"not_found","message":"no such key"}}`: "no such key (HTTP 404)",
		`{"error":"loading config: boom"}`:                       "loading config: boom (HTTP 404)",
		`not json`:                                               "HTTP 404: not json",
	} {
		if got := adminError(404, []byte(body)).Error(); got != want {
			t.Errorf("adminError(%s) = %q, want %q", body, got, want)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
