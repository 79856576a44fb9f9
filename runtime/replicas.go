package runtime

import (
	"fmt"
	"net/url"
	"slices"
	"time"
)

// list returns the current replicas. The slice is never modified; a change
// stores a new one.
func (u *Upstream) list() []*replica { return *u.replicas.Load() }

// AddReplica registers another address of the service at run time (the
// admin API's dynamic service registration). It takes part in balancing,
// breaking and health checks from the next call. Registrations last until
// the configuration is reloaded, which restores the configured replicas.
func (u *Upstream) AddReplica(raw string) error {
	u.replicaMu.Lock()
	defer u.replicaMu.Unlock()
	if parsed, err := url.Parse(raw); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return fmt.Errorf("replica %q must be an absolute http:// or https:// URL", raw)
	}
	old := u.list()
	if slices.ContainsFunc(old, func(r *replica) bool { return r.url == raw }) {
		return fmt.Errorf("service %q already has replica %q", u.svc.Name, raw)
	}
	if len(old) >= maxReplicas {
		return fmt.Errorf("service %q already has %d replicas, the most a service may have", u.svc.Name, maxReplicas)
	}
	r, err := u.newReplica(raw, u.opts, u.tlsConfig)
	if err != nil {
		return err
	}
	r.index = freeReplicaIndex(old)
	list := append(slices.Clone(old), r)
	u.replicas.Store(&list)
	u.log.Info("replica registered", "service", u.svc.Name, "replica", raw, "replicas", len(list))
	return nil
}

// RemoveReplica takes an address out of the service at run time. Calls in
// flight on it finish; its idle connections are closed once they have. The
// last replica cannot be removed.
func (u *Upstream) RemoveReplica(raw string) error {
	u.replicaMu.Lock()
	defer u.replicaMu.Unlock()
	old := u.list()
	i := slices.IndexFunc(old, func(r *replica) bool { return r.url == raw })
	if i < 0 {
		return fmt.Errorf("service %q has no replica %q", u.svc.Name, raw)
	}
	if len(old) == 1 {
		return fmt.Errorf("replica %q is the last one of service %q; register another before removing it", raw, u.svc.Name)
	}
	gone := old[i]
	list := slices.Delete(slices.Clone(old), i, i+1)
	u.replicas.Store(&list)
	u.log.Info("replica removed", "service", u.svc.Name, "replica", raw, "replicas", len(list))
	go func() {
		// Bounded wait for calls already on the replica.
		for k := 0; k < 600 && gone.outstanding.Load() > 0; k++ {
			time.Sleep(100 * time.Millisecond)
		}
		gone.client.CloseIdleConnections()
		releaseReplicaCounters(u.svc.Name, gone.url)
	}()
	return nil
}

// freeReplicaIndex returns the lowest index no replica in list uses.
func freeReplicaIndex(list []*replica) int {
	var used uint64
	for _, r := range list {
		used |= 1 << r.index
	}
	for i := 0; i < maxReplicas; i++ {
		if used&(1<<i) == 0 {
			return i
		}
	}
	return maxReplicas - 1
}
