package main

import (
	"math"
	"slices"
	"time"
)

// latencyMS is a latency summary in milliseconds, rounded to microseconds.
type latencyMS struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// summarize sorts d in place and returns its percentiles (nearest rank).
func summarize(d []time.Duration) latencyMS {
	if len(d) == 0 {
		return latencyMS{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return latencyMS{
		N:    len(d),
		Mean: ms(sum / time.Duration(len(d))),
		P50:  ms(rank(d, 0.50)),
		P90:  ms(rank(d, 0.90)),
		P99:  ms(rank(d, 0.99)),
		P999: ms(rank(d, 0.999)),
		Max:  ms(d[len(d)-1]),
	}
}

// rank is the nearest-rank percentile of sorted d.
func rank(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	i = max(0, min(i, len(d)-1))
	return d[i]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// perCPU scales a rate to one fully used core: on a shared machine the
// server may get only part of its CPU, and this figure hides that (it
// assumes cost per operation does not depend on load).
func perCPU(rate, cpuPct float64) float64 {
	if cpuPct < 1 {
		return 0
	}
	return round1(rate * 100 / cpuPct)
}
