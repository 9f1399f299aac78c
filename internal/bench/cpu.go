package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CPUCost is the CPU time a run cost per transfer, in microseconds, read from
// /proc on Linux. The box figure includes the load generator.
type CPUCost struct {
	ServerMicros   float64 `json:"server_us_per_transfer"`
	PostgresMicros float64 `json:"postgres_us_per_transfer"`
	BoxMicros      float64 `json:"box_us_per_transfer"`
	// BenchMicros is what the load generator itself spent, which the box
	// figure includes and a production server would not carry.
	BenchMicros float64 `json:"bench_us_per_transfer"`
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// CPUSnapshot is the CPU time used so far by the server's and PostgreSQL's
// processes, each by pid, and by the whole machine, in clock ticks.
type CPUSnapshot struct {
	Server, Postgres map[int]int64
	Box, Self        int64
	ok               bool
}

// TakeCPU reads the CPU time of the server — the process serverPID, or when it
// is 0 every process named "bank" but this one — of the processes named
// "postgres", and of the whole box.
func TakeCPU(serverPID int) CPUSnapshot {
	s := CPUSnapshot{Server: map[int]int64{}, Postgres: map[int]int64{}}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle and iowait are not work
			s.Box += n
		}
	}
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		comm, ticks, ok := processCPU(d)
		switch {
		case !ok:
		case pid == self:
			s.Self = ticks
		case pid == serverPID || serverPID == 0 && comm == "bank":
			s.Server[pid] = ticks
		case comm == "postgres":
			s.Postgres[pid] = ticks
		}
	}
	s.ok = true
	return s
}

// processCPU reads the name and the user and system CPU time, in clock
// ticks, of the process whose /proc folder is dir.
func processCPU(dir string) (comm string, ticks int64, ok bool) {
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return "", 0, false
	}
	// comm is in parentheses and may hold spaces: split after the last ')'.
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return "", 0, false
	}
	rest := strings.Fields(string(b[closing+1:]))
	if len(rest) < 13 {
		return "", 0, false
	}
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	return string(b[open+1 : closing]), utime + stime, true
}

// Cost turns two snapshots around a run of transfers into a CPUCost.
func Cost(before, after CPUSnapshot, transfers int) *CPUCost {
	if !before.ok || !after.ok || transfers == 0 {
		return nil
	}
	us := func(ticks int64) float64 { return float64(ticks) * 1e6 / clockTicks / float64(transfers) }
	return &CPUCost{
		ServerMicros:   us(delta(before.Server, after.Server)),
		PostgresMicros: us(delta(before.Postgres, after.Postgres)),
		BoxMicros:      us(after.Box - before.Box),
		BenchMicros:    us(after.Self - before.Self),
	}
}

// delta sums what each process used between the snapshots. A process that
// started meanwhile counts whole; one that exited is lost (its time cannot be
// read any more), which is why PostgreSQL's figure is a lower bound when
// connections come and go.
func delta(before, after map[int]int64) int64 {
	var d int64
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}

// String formats c for the table.
func (c *CPUCost) String() string {
	if c == nil {
		return "n/a"
	}
	return fmt.Sprintf("server %.0f µs, postgres %.0f µs, bench %.0f µs, whole box %.0f µs per transfer",
		c.ServerMicros, c.PostgresMicros, c.BenchMicros, c.BoxMicros)
}
