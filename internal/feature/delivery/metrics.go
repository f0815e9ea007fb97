package delivery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	notices   *prometheus.CounterVec
	tracked   prometheus.Counter
	untracked *prometheus.CounterVec
	completed *prometheus.CounterVec
	timeouts  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_delivery_notices_total",
			Help: "AMP deliver notices sent to senders (XEP-0079, TIM+), by value (direct, stored)."}, []string{"value"}),
		tracked: prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_delivery_tracked_total",
			Help: "Outgoing chat messages tracked by the message monitor (one per recipient)."}),
		untracked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_delivery_untracked_total",
			Help: "Outgoing chat messages the monitor could not track, by reason (quota, storage)."}, []string{"reason"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_delivery_completed_total",
			Help: "Tracked messages completed, by what completed them (notice, error)."}, []string{"by"}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_delivery_timeouts_total",
			Help: "Tracked messages that got no notice nor error in time: the sender got remote-server-timeout."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.notices, m.tracked, m.untracked, m.completed, m.timeouts} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err)
				}
			}
		}
	}
	return m
}
