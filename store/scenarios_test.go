package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/store/redistest"
)

// A scenario is one promise of the store, run on one Redis (its own
// redis-server per scenario) and again on a 3-master Redis Cluster, where a
// script or transaction touching keys of two hash slots fails with CROSSSLOT.
type scenario struct {
	name string
	run  func(t *testing.T, s *Store)
}

func scenarios() []scenario {
	var all []scenario
	all = append(all, queueScenarios()...)
	all = append(all, inboundScenarios()...)
	all = append(all, escalationScenarios()...)
	all = append(all, crisisScenarios()...)
	all = append(all, peopleScenarios()...)
	all = append(all, apiKeyScenarios()...)
	all = append(all, auditScenarios()...)
	all = append(all, memoryScenarios()...)
	all = append(all, outboxScenarios()...)
	all = append(all, safetyScenarios()...)
	all = append(all, identityScenarios()...)
	all = append(all, staffEmailScenarios()...)
	return all
}

func TestStoreOnRedis(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			rs := redistest.New(t)
			if rs.Kind == "env" {
				t.Skip("REDIS_URL is shared: the queue scenarios count every entry, so they need a Redis of their own")
			}
			sc.run(t, New(rs.Client(t), nil))
		})
	}
}

func TestStoreOnCluster(t *testing.T) {
	start := time.Now()
	cl := redistest.NewCluster(t)
	t.Logf("3-master cluster ready in %v", time.Since(start).Round(time.Millisecond))
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			cl.Flush(context.Background(), t)
			rdb, err := NewClient(cl.URL, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rdb.Close() })
			sc.run(t, New(rdb, nil))
		})
	}
}

// TestNewClientPicksClusterForSeveralHosts checks the REDIS_URL form the
// README documents for a Cluster.
func TestNewClientPicksClusterForSeveralHosts(t *testing.T) {
	rdb, err := NewClient("redis://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002", false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if got := fmt.Sprintf("%T", rdb); got != "*redis.ClusterClient" {
		t.Errorf("client for three hosts = %s; want *redis.ClusterClient", got)
	}
}

// TestStoreOnSentinel runs the scenarios through a Sentinel client (the
// form REDIS_URL takes with master_name) on a primary with a replica.
func TestStoreOnSentinel(t *testing.T) {
	start := time.Now()
	sn := redistest.NewSentinel(t)
	t.Logf("primary, replica and three Sentinels ready in %v", time.Since(start).Round(time.Millisecond))
	rdb, err := NewClient(sn.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			if err := rdb.FlushAll(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			sc.run(t, New(rdb, nil))
		})
	}
}

// TestNewClientPicksSentinelForMasterName: a URL naming master_name is a
// Sentinel group however its Sentinels are listed, never a Cluster.
func TestNewClientPicksSentinelForMasterName(t *testing.T) {
	for _, url := range []string{
		"redis://127.0.0.1:26379?master_name=carecheck",
		"redis://127.0.0.1:26379?master_name=carecheck&addr=127.0.0.1:26380&addr=127.0.0.1:26381",
		"redis://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/0?master_name=carecheck",
	} {
		rdb, err := NewClient(url, false)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		c, ok := rdb.(*redis.Client)
		if !ok || c.Options().Addr != "FailoverClient" {
			t.Errorf("client for %s = %T; want a Sentinel (failover) client", url, rdb)
		}
		_ = rdb.Close()
	}
	if got := severalHosts("redis://h1:1,h2:2,h3:3/2?master_name=m"); got != "redis://h1:1/2?addr=h2:2&addr=h3:3&master_name=m" {
		t.Errorf("severalHosts = %q", got)
	}
}

var seq atomic.Int64

// unique returns a name no other scenario uses.
func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// phone returns a valid, unused US number.
func phone() string { return fmt.Sprintf("+1312555%04d", seq.Add(1)%10000) }

// seedClient creates an agency and an active client with a phone.
func seedClient(t *testing.T, s *Store) (*Agency, *Client) {
	t.Helper()
	ctx := t.Context()
	a := &Agency{Name: unique("agency "), Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(ctx, a); err != nil {
		t.Fatalf("create agency: %v", err)
	}
	return a, seedClientOf(t, s, a)
}

// seedClientOf creates one more client of agency a.
func seedClientOf(t *testing.T, s *Store, a *Agency) *Client {
	t.Helper()
	c := &Client{AgencyID: a.ID, Name: "Client", Phone: phone(), Channel: "sms", Timezone: "America/Chicago", Language: "en",
		Consent: &Consent{At: time.Now(), Method: "written"}}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling another actor's progress
	}
}

// parallel runs f(i) for i in [0,n) at once and waits for all.
func parallel(n int, f func(i int)) {
	start := make(chan struct{})
	done := make(chan struct{}, n)
	for i := range n {
		go func() {
			<-start
			f(i)
			done <- struct{}{}
		}()
	}
	close(start)
	for range n {
		<-done
	}
}
