// Package bench holds benchmarks that join several layers in one process
// (a feature over the real s2s transport), where no single package's own
// benchmarks can reach. Figures and commands go to docs/performance.md.
package bench
