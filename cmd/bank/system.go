package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/web"
)

// platformSystem is the console's system page's view of "serve all": its
// health checks, queue, maintenance mode and metrics, all in this process.
type platformSystem struct {
	db     *store.DB
	health *observe.Health
	queue  platformQueue
	stats  func(context.Context) (queue.Stats, error)
	maint  *ops.MaintenanceWatch
	gather prometheus.Gatherer
}

func (p platformSystem) Status(ctx context.Context) (web.SystemStatus, error) {
	st := web.SystemStatus{Now: time.Now()}
	for name, c := range p.health.Check(ctx).Components {
		st.Checks = append(st.Checks, web.Check{Name: name, Status: string(c.Status)})
	}
	if s, err := p.stats(ctx); err == nil {
		st.Queues = append(st.Queues, web.QueueDepth{Name: p.queue.Name, Visible: s.Main.Visible, InFlight: s.Main.InFlight,
			DeadLetter: s.DLQ.Visible + s.DLQ.InFlight, OldestAge: s.Main.OldestAge.Round(time.Second)})
	}
	m := p.maint.State()
	st.Maintenance, st.Message, st.Since = m.On, m.Message, m.Since
	var err error
	if st.Metrics, err = p.gather.Gather(); err != nil {
		return st, err
	}
	st.CPULimit, st.MemoryLimit = cgroupLimits()
	return st, nil
}

func (p platformSystem) SetMaintenance(ctx context.Context, on bool, message string) error {
	m := ops.Maintenance{On: on, Message: message, RetryAfter: 5 * time.Minute}
	if err := ops.SetMaintenance(ctx, p.db, m, time.Now()); err != nil {
		return err
	}
	return p.maint.Refresh(ctx) // this process follows at once; the others within BANK_MAINTENANCE_POLL
}

func (p platformSystem) Redrive(ctx context.Context) (int, error) { return p.queue.Redrive(ctx, 0) }

// cgroupLimits are the CPU (cores) and memory (bytes) limits of the
// process's cgroup (v2), 0 where none is set or none can be read.
func cgroupLimits() (cpu, memory float64) {
	if b, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
		quota, period, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		q, err1 := strconv.ParseFloat(quota, 64)
		p, err2 := strconv.ParseFloat(period, 64)
		if err1 == nil && err2 == nil && p > 0 {
			cpu = q / p
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if m, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			memory = m
		}
	}
	return cpu, memory
}
