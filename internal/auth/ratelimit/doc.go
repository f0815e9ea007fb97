// Package ratelimit counts events per key (IP address, account) in a
// sliding window, to slow and refuse brute force and floods.
package ratelimit
