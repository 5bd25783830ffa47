package keystore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/caddy-signet/signet/internal/redistest"
)

// Benchmarks of the link ledger: CreateLink throughput, ListLinks over 100k
// records, and what 1M records cost (BenchmarkLedger1M).

// benchLink returns the i-th record of a generated ledger: keys keys with
// one user each, paths spread over their users' folders (about 45 bytes),
// a download name on one in ten, expiring at exp.
func benchLink(tb testing.TB, i, keys int, keyIDs []string, created, exp time.Time) *Link {
	k := i % keys
	l := &Link{
		ID:              confURLID(tb),
		Path:            fmt.Sprintf("/users/user%03d/reports/2026/report-%07d.pdf", k, i),
		KeyID:           keyIDs[k],
		User:            fmt.Sprintf("user%03d", k),
		CreatedAt:       created.Add(time.Duration(i) * time.Millisecond),
		ExpiresAt:       exp,
		SignedExpiresAt: exp,
	}
	if i%10 == 0 {
		l.Policy.DownloadName = fmt.Sprintf("Report %d.pdf", i)
	}
	return l
}

func benchKeyIDs(tb testing.TB, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = confLinkKeyID(tb)
	}
	return ids
}

// benchLedgerStores opens each store for a benchmark: a bbolt file in a
// temporary directory, and a namespace on a redis-server of its own.
func benchLedgerStores(b *testing.B) map[string]func(b *testing.B) Store {
	return map[string]func(b *testing.B) Store{
		"bolt": func(b *testing.B) Store {
			s, err := OpenBolt(filepath.Join(b.TempDir(), "signet.db"), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis": func(b *testing.B) Store {
			return redisOpen(b, redistest.Start(b), "bench")
		},
	}
}

// BenchmarkCreateLink: records created one at a time (serial) and from 8
// goroutines at once (parallel): bbolt commits (and fsyncs) each; Redis
// runs one script each.
func BenchmarkCreateLink(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"bolt", "redis"} {
		open := benchLedgerStores(b)[name]
		keyIDs := benchKeyIDs(b, 100)
		now := time.Now()
		b.Run(name+"/serial", func(b *testing.B) {
			s := open(b)
			i := 0
			for b.Loop() {
				if err := s.CreateLink(ctx, benchLink(b, i, 100, keyIDs, now, now.Add(time.Hour))); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "links/s")
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			s := open(b)
			b.SetParallelism(4) // 4 per CPU
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := s.CreateLink(ctx, benchLink(b, i, 100, keyIDs, now, now.Add(time.Hour))); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "links/s")
		})
	}
}

// benchFill stores links in s in bulk: bbolt in large transactions, Redis
// in pipelines of the create script (the writes CreateLink makes).
func benchFill(tb testing.TB, s Store, links []*Link) {
	tb.Helper()
	switch s := s.(type) {
	case *BoltStore:
		boltFillLinks(tb, s, links)
	case *RedisStore:
		redisFillLinks(tb, s, links)
	default:
		tb.Fatalf("no bulk fill for %T", s)
	}
}

// redisFillLinks runs the create script for each record, 1000 to a
// pipeline.
func redisFillLinks(tb testing.TB, s *RedisStore, links []*Link) {
	tb.Helper()
	ctx := context.Background()
	if err := redisCreateLink.Load(ctx, s.client).Err(); err != nil {
		tb.Fatal(err)
	}
	for chunk := range slices.Chunk(links, 1000) {
		cmds, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, l := range chunk {
				st := storedLink(l)
				st.Rev = 1
				keys, args, err := s.createLinkArgs(st)
				if err != nil {
					return err
				}
				redisCreateLink.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cmds {
			if n, err := c.(*redis.Cmd).Int(); err != nil || n != 1 {
				tb.Fatalf("create script = %d, %v", n, err)
			}
		}
	}
}

// benchListCases are the listings BenchmarkListLinks and BenchmarkLedger1M
// time: a page of 100 of one key's records, of one user's, of a folder
// with few records, of everything, and a page deep into one key's.
func benchListCases(keyIDs []string) []struct {
	name string
	f    LinkFilter
} {
	return []struct {
		name string
		f    LinkFilter
	}{
		{"key", LinkFilter{KeyID: keyIDs[7]}},
		{"user", LinkFilter{User: "user007"}},
		{"key+path", LinkFilter{KeyID: keyIDs[7], PathPrefix: "/users/user007/reports/"}},
		{"path", LinkFilter{PathPrefix: "/users/user007/"}},
		{"all", LinkFilter{}},
	}
}

// BenchmarkListLinks: a page of 100 records, with each filter, from a
// ledger of 100k records of 100 keys.
func BenchmarkListLinks(b *testing.B) {
	ctx := context.Background()
	const n, keys = 100_000, 100
	for _, name := range []string{"bolt", "redis"} {
		s := benchLedgerStores(b)[name](b)
		keyIDs := benchKeyIDs(b, keys)
		now := time.Now()
		links := make([]*Link, n)
		for i := range links {
			links[i] = benchLink(b, i, keys, keyIDs, now.Add(-time.Hour), now.Add(time.Hour))
		}
		benchFill(b, s, links)
		for _, tt := range benchListCases(keyIDs) {
			b.Run(name+"/"+tt.name, func(b *testing.B) {
				for b.Loop() {
					page, next, err := s.ListLinks(ctx, tt.f, "", 100, now)
					if err != nil || len(page) != 100 || next == "" {
						b.Fatalf("ListLinks = %d, %q, %v", len(page), next, err)
					}
				}
			})
		}
		// The fifth page of one key's records.
		b.Run(name+"/key-page5", func(b *testing.B) {
			f := LinkFilter{KeyID: keyIDs[7]}
			cursor := ""
			for range 4 {
				_, next, err := s.ListLinks(ctx, f, cursor, 100, now)
				if err != nil {
					b.Fatal(err)
				}
				cursor = next
			}
			for b.Loop() {
				if page, _, err := s.ListLinks(ctx, f, cursor, 100, now); err != nil || len(page) != 100 {
					b.Fatalf("ListLinks = %d, %v", len(page), err)
				}
			}
		})
	}
}

// benchLedgerRecords is the size of BenchmarkLedger1M's ledger:
// SIGNET_LEDGER_RECORDS, or 1M.
func benchLedgerRecords(b *testing.B) int {
	if v := os.Getenv("SIGNET_LEDGER_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("SIGNET_LEDGER_RECORDS=%q: want a number of records, at least 1000", v)
		}
		return n
	}
	return 1_000_000
}

// redisUsedMemory is INFO memory's used_memory.
func redisUsedMemory(tb testing.TB, srv *redistest.Server) int64 {
	tb.Helper()
	info, err := srv.Client().InfoMap(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(info["Memory"]["used_memory"]), 10, 64)
	if err != nil {
		tb.Fatalf("used_memory: %v (%v)", err, info)
	}
	return n
}

// BenchmarkLedger1M fills each store with 1M live records (1000 keys, each
// with its user; SIGNET_LEDGER_RECORDS for another size) and reports what
// a record costs (Redis: used_memory per record; bbolt: file bytes per
// record), how long a page of 100 takes with each filter, and how long a
// new instance's cache takes to start on that ledger (it loads only moved
// expiries, of which there are 100). Only with -bench: the fill takes a
// while.
func BenchmarkLedger1M(b *testing.B) {
	ctx := context.Background()
	n := benchLedgerRecords(b)
	const keys = 1000
	keyIDs := benchKeyIDs(b, keys)
	now := time.Now()
	links := make([]*Link, n)
	for i := range links {
		links[i] = benchLink(b, i, keys, keyIDs, now.Add(-time.Hour), now.Add(6*time.Hour))
		if i%(n/100) == 0 {
			links[i].ExpiresAt = now.Add(3 * time.Hour) // shortened: in the moved index
		}
	}
	report := func(b *testing.B, s Store) {
		for _, tt := range benchListCases(keyIDs) {
			var lat []time.Duration
			for range 50 {
				start := time.Now()
				page, _, err := s.ListLinks(ctx, tt.f, "", 100, now)
				lat = append(lat, time.Since(start))
				if err != nil || len(page) == 0 {
					b.Fatalf("ListLinks(%s) = %d, %v", tt.name, len(page), err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "list-"+tt.name+"-p50-µs")
		}
		start := time.Now()
		c, err := NewCache(ctx, s, CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "cache-start-ms")
		if c.LinkExpiryCount() != 100 {
			b.Errorf("the cache holds %d moved expiries, want 100", c.LinkExpiryCount())
		}
		_ = c.Close()
	}
	b.Run("redis", func(b *testing.B) {
		for b.Loop() {
			srv := redistest.Start(b)
			s := redisOpen(b, srv, "")
			before := redisUsedMemory(b, srv)
			start := time.Now()
			redisFillLinks(b, s, links)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "fill-links/s")
			used := redisUsedMemory(b, srv) - before
			b.ReportMetric(float64(used)/float64(n), "redis-bytes/record")
			report(b, s)
		}
	})
	b.Run("bolt", func(b *testing.B) {
		for b.Loop() {
			path := filepath.Join(b.TempDir(), "signet.db")
			s, err := OpenBolt(path, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			boltFillLinks(b, s, links)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "fill-links/s")
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/float64(n), "file-bytes/record")
			b.ReportMetric(float64(boltLinkPages(b, s))/float64(n), "page-bytes/record")
			report(b, s)
			_ = s.Close()
		}
	})
}

// boltLinkPages is the size of the pages the ledger's buckets take (the
// file also holds free pages, and grows in steps).
func boltLinkPages(tb testing.TB, s *BoltStore) int {
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range linkBuckets {
			st := tx.Bucket(name).Stats()
			total += st.BranchAlloc + st.LeafAlloc
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}
