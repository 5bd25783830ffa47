package client

import (
	"testing"
	"time"
)

// Offline signing throughput on one core:
//
//	go test -run '^$' -bench . -cpu 1 ./client
//
// signs/s is b.N over the elapsed time: the target is at least 300k/s.

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
}

// BenchmarkSignURL: a file link, the usual case.
func BenchmarkSignURL(b *testing.B) {
	s := testSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignURL("https://files.example.com", "/reports/2026/q1.pdf", 5*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkSignURLPolicies: a file link with a non-ASCII path, two query
// pairs, a download name and max uses.
func BenchmarkSignURLPolicies(b *testing.B) {
	s := testSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignURL("https://files.example.com", "/shared/team a/café menu.pdf", time.Hour,
			QueryPair("lang", "fr"), QueryPair("v", "2"), DownloadName("Café menu.pdf"), MaxUses(3)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkSignURLFolder: a folder link's path form.
func BenchmarkSignURLFolder(b *testing.B) {
	s := testSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignURL("https://files.example.com", "/movie", 2*time.Hour, PathForm()); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkSignURLWithKey: the package-level SignURL in a loop over one
// key (it keeps the last key's Signer).
func BenchmarkSignURLWithKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignURL("https://files.example.com", "/reports/2026/q1.pdf", testKey, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkSignURLParallel: one Signer shared by every goroutine.
func BenchmarkSignURLParallel(b *testing.B) {
	s := testSigner(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.SignURL("https://files.example.com", "/reports/2026/q1.pdf", 5*time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}
