package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// registerLimits exports the CPU and memory limits of the process's
// cgroup, so that whoever reads its metrics (the console's system page)
// can say how much of them it uses: 0 where none is set or none is known.
func registerLimits(reg prometheus.Registerer) {
	cpu, memory := cgroupLimits()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bank_cpu_limit_cores",
			Help: "The CPU limit of the process's cgroup, in cores; 0: none"}, func() float64 { return cpu }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bank_memory_limit_bytes",
			Help: "The memory limit of the process's cgroup, in bytes; 0: none"}, func() float64 { return memory }))
}

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
