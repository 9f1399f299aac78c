package auth

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestLoginTimingTellsNothing: on PostgreSQL, a wrong password for a real
// email and any password for an unknown one take the same time. Both kinds
// of login are timed many times, interleaved at random so that drift on a
// shared machine falls on both alike, and a Mann-Whitney rank test must not
// tell the two samples apart. The hash is cheap here, so that a difference in
// the database work (the failed-login write that used to be made only for
// real emails: p below 1e-80 here) is not drowned by it.
//
// SQLite is left out: reading a user's row from the table after a hit in
// the email index costs it a few tens of microseconds more than a miss, which
// 300 cheap logins under the race detector can see; with the production
// hash, some 30 ms a login, that is well under the noise.
func TestLoginTimingTellsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	db := storetest.Open(t, store.Postgres)
	cfg := testConfig()
	cfg.FreeAccountFailures = 1 << 30 // every sample counts, and is never slowed
	s := newServer(t, db, cfg)
	s.mustRegister(email, password, "Ann")
	const samples = 300
	order := make([]bool, 2*samples) // true: the real email
	for i := range samples {
		order[i] = true
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	ctx := context.Background()
	login := func(i int, who string) time.Duration {
		// A fresh address each time, so that the throttle never delays:
		// both kinds then insert and count a new throttle row.
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		start := time.Now()
		_, err := s.svc.Login(ctx, who, "wrong password", ip)
		d := time.Since(start)
		if bank.ErrorCode(err) != "invalid_credentials" {
			t.Fatalf("login %s: %v, want invalid_credentials", who, err)
		}
		return d
	}
	for i := range 20 { // warm the connection pool and the plan caches
		login(1<<20+i, email)
		login(1<<20+i, "nobody@example.com")
	}
	var known, unknown []float64
	for i, real := range order {
		if real {
			known = append(known, float64(login(i, email)))
		} else {
			unknown = append(unknown, float64(login(i, "nobody@example.com")))
		}
	}
	p := mannWhitneyP(known, unknown)
	t.Logf("median known %v, unknown %v; Mann-Whitney p = %.3g",
		time.Duration(median(known)), time.Duration(median(unknown)), p)
	if p < 0.001 {
		t.Errorf("a wrong password for a real email and an unknown email take different times: "+
			"median %v vs %v, p = %.3g", time.Duration(median(known)), time.Duration(median(unknown)), p)
	}
}

// mannWhitneyP is the two-sided p-value of the Mann-Whitney U test that a
// and b come from one distribution, by the normal approximation with the
// correction for ties (good for samples of more than about 20).
func mannWhitneyP(a, b []float64) float64 {
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	n1, n2, n := float64(len(a)), float64(len(b)), float64(len(all))
	var rankSum, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1 … j, averaged
		for k := i; k < j; k++ {
			if all[k].first {
				rankSum += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	u := rankSum - n1*(n1+1)/2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if sigma == 0 {
		return 1
	}
	z := (u - n1*n2/2) / sigma
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestMannWhitneyP checks the rank test itself: it must see a small shift
// in large samples, and see none between samples of one distribution.
func TestMannWhitneyP(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	sample := func(n int, mean float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = mean + r.NormFloat64()*mean*0.1
		}
		return s
	}
	// 32.8 ms against 30.7 ms, the difference the failed-login write made.
	if p := mannWhitneyP(sample(300, 32.8), sample(300, 30.7)); p > 1e-6 {
		t.Errorf("p = %g for a 7%% shift in 300 samples, want it tiny", p)
	}
	if p := mannWhitneyP(sample(300, 30.7), sample(300, 30.7)); p < 0.01 {
		t.Errorf("p = %g for samples of one distribution, want it large", p)
	}
	if p := mannWhitneyP([]float64{1, 1, 1}, []float64{1, 1, 1}); p != 1 {
		t.Errorf("p = %g for all ties, want 1", p)
	}
	// A textbook case: U = 1 of a possible 16.
	if p := mannWhitneyP([]float64{1, 2, 3, 5}, []float64{4, 6, 7, 8}); math.Abs(p-0.0433) > 0.001 {
		t.Errorf("p = %.4f, want 0.0433 by the normal approximation", p)
	}
}
