package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

// procStat is what /proc/PID/stat says about one process.
type procStat struct {
	ppid       int
	cpuTicks   int64 // utime + stime
	rssPages   int64
	parseError error
}

// parseStat parses /proc/PID/stat; comm may contain spaces and ')' so the
// fields are counted from the last ')' (proc(5)).
func parseStat(b []byte) procStat {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{parseError: fmt.Errorf("no ')' in stat")}
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is 4, utime 14, stime 15, rss 24.
	if len(f) < 22 {
		return procStat{parseError: fmt.Errorf("stat has %d fields", len(f)+2)}
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return procStat{ppid: ppid, cpuTicks: ut + st, rssPages: rss}
}

// vmRSSKB returns VmRSS in KB from /proc/PID/status text.
func vmRSSKB(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS line (kernel thread or zombie?)")
}

// tree returns pid and all its descendants, found by scanning /proc.
func tree(pid int) []int {
	children := map[int][]int{}
	ents, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, e := range ents {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		st := parseStat(b)
		if st.parseError != nil {
			continue
		}
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		children[st.ppid] = append(children[st.ppid], n)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// serverUsage is the RSS (KB, VmRSS summed over the process tree) and CPU
// time of the server.
type serverUsage struct {
	RSSKB int64
	CPU   time.Duration
}

func readServer(pid int) (serverUsage, error) {
	var u serverUsage
	if pid <= 0 {
		return u, nil
	}
	for i, p := range tree(pid) {
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			if i == 0 {
				return u, fmt.Errorf("server pid %d: %w (has it exited?)", pid, err)
			}
			continue
		}
		kb, err := vmRSSKB(s)
		if err != nil && i == 0 {
			return u, fmt.Errorf("server pid %d: %w", pid, err)
		}
		u.RSSKB += kb
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil {
			if st := parseStat(b); st.parseError == nil {
				u.CPU += time.Duration(st.cpuTicks) * time.Second / clkTck
			}
		}
	}
	return u, nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures CPU use (server and self) over an interval.
type cpuMeter struct {
	pid          int
	wall         time.Time
	server, self time.Duration
}

func startCPU(pid int) *cpuMeter {
	u, _ := readServer(pid)
	return &cpuMeter{pid: pid, wall: time.Now(), server: u.CPU, self: selfCPU()}
}

// percent returns server and self CPU use in percent of one core.
func (m *cpuMeter) percent() (server, self float64) {
	wall := time.Since(m.wall).Seconds()
	if wall <= 0 {
		return 0, 0
	}
	self = (selfCPU() - m.self).Seconds() / wall * 100
	if m.pid > 0 {
		if u, err := readServer(m.pid); err == nil {
			server = (u.CPU - m.server).Seconds() / wall * 100
		}
	}
	return round1(server), round1(self)
}
