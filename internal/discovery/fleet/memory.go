package fleet

import (
	"context"
	"sync"
)

// MemoryStore is an in-memory FleetStore for tests and single-process use; it forgets everything on exit.
type MemoryStore struct {
	mu      sync.Mutex
	results map[string]SaveResult // by report id
	hosts   map[string]*memHost   // by host\x00user
}

type memHost struct {
	summary HostSummary
	servers map[string]ServerRecord
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{results: map[string]SaveResult{}, hosts: map[string]*memHost{}}
}

// SaveReport implements FleetStore.
func (m *MemoryStore) SaveReport(_ context.Context, rep StoredReport) (SaveResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.results[rep.ReportID]; ok {
		r.Duplicate = true
		return r, nil
	}
	key := rep.Host + "\x00" + rep.User
	h := m.hosts[key]
	var prev map[string]ServerRecord
	if h != nil {
		prev = h.servers
	} else {
		h = &memHost{summary: HostSummary{Host: rep.Host, User: rep.User}}
		m.hosts[key] = h
	}
	next, res := apply(prev, rep)
	h.servers = next
	h.summary.OS, h.summary.LastReportID, h.summary.LastSeen = rep.OS, rep.ReportID, rep.ReceivedAt
	h.summary.Reports++
	summarize(&h.summary, next)
	m.results[rep.ReportID] = res
	return res, nil
}

// Hosts implements FleetStore.
func (m *MemoryStore) Hosts(context.Context) ([]HostSummary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []HostSummary{}
	for _, h := range m.hosts {
		out = append(out, h.summary)
	}
	sortSlice(out, func(a, b HostSummary) bool {
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.User < b.User
	})
	return out, nil
}

// Servers implements FleetStore.
func (m *MemoryStore) Servers(_ context.Context, f ServerFilter) ([]ServerRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []ServerRecord
	for _, h := range m.hosts {
		for _, r := range h.servers {
			all = append(all, r)
		}
	}
	return filterRecords(all, f), nil
}

var _ FleetStore = (*MemoryStore)(nil)
