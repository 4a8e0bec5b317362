package turn

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// pendingTTL is how long a quota slot reserved by an Allocate that passed
// the quota check waits for the allocation to exist. pion creates the
// allocation right after the check on the same goroutine (microseconds), so
// this only matters when creation failed (no relay port, capacity, TCP
// refused) and nothing released the slot: it then frees itself.
const pendingTTL = 5 * time.Second

// ipv6QuotaBits is the IPv6 prefix length counted as one client address:
// one subscriber usually gets a whole /64, so per-address limits on IPv6
// would be trivially evaded.
const ipv6QuotaBits = 64

// quota enforces the per-username and per-client-IP allocation caps
// (RFC 8656 §7.2 step 7: the server MAY reject an Allocate with 486
// Allocation Quota Reached). pion/turn asks QuotaHandler before creating an
// allocation and reports creations and deletions as events; quota reserves
// a slot at the question and turns it into an allocation at the creation
// event, so concurrent Allocates on different sockets cannot overshoot.
//
// The server-wide cap is not here: it is enforced where relay sockets are
// made (relayGenerator), so it can answer 508 Insufficient Capacity.
type quota struct {
	maxUser, maxIP int

	mu      sync.Mutex // guards the fields below
	users   map[string]int
	ips     map[netip.Prefix]int
	pending map[string]pendingSlot // by pendingKey
}

// pendingSlot is a reservation made by allow and not yet confirmed by
// created.
type pendingSlot struct {
	user  string
	ip    netip.Prefix
	until time.Time
}

func newQuota(maxUser, maxIP int) *quota {
	return &quota{
		maxUser: maxUser,
		maxIP:   maxIP,
		users:   make(map[string]int),
		ips:     make(map[netip.Prefix]int),
		pending: make(map[string]pendingSlot),
	}
}

// allow reserves a slot for an allocation by user from src, or says which
// cap is reached.
func (q *quota) allow(user string, src net.Addr) (refusal, bool) {
	now := time.Now()
	ip := clientPrefix(src)
	key := pendingKey(src)

	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(now)
	if old, ok := q.pending[key]; ok {
		// The same 5-tuple asked again before its allocation appeared:
		// replace the reservation rather than hold two.
		q.releaseLocked(old.user, old.ip)
		delete(q.pending, key)
	}
	if q.users[user] >= q.maxUser {
		return refusedUserQuota, false
	}
	if q.ips[ip] >= q.maxIP {
		return refusedIPQuota, false
	}
	q.users[user]++
	q.ips[ip]++
	q.pending[key] = pendingSlot{user: user, ip: ip, until: now.Add(pendingTTL)}
	return 0, true
}

// created confirms the reservation of src's allocation, or counts the
// allocation if there was none.
func (q *quota) created(user string, src net.Addr) {
	key := pendingKey(src)
	q.mu.Lock()
	defer q.mu.Unlock()
	if p, ok := q.pending[key]; ok && p.user == user {
		delete(q.pending, key)
		return
	}
	q.users[user]++
	q.ips[clientPrefix(src)]++
}

// deleted gives back the slot of an allocation that ended.
func (q *quota) deleted(user string, src net.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(user, clientPrefix(src))
}

// abandon gives back a reservation of user whose allocation failed to be
// created. The relay generator knows the user but not the client address,
// so it releases that user's newest reservation; if that was a concurrent
// one of the same user, the counts still balance once the other allocation
// is created (it then finds no reservation and counts itself).
func (q *quota) abandon(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var (
		newestKey string
		newest    pendingSlot
	)
	for k, p := range q.pending {
		if p.user == user && (newestKey == "" || p.until.After(newest.until)) {
			newestKey, newest = k, p
		}
	}
	if newestKey != "" {
		delete(q.pending, newestKey)
		q.releaseLocked(newest.user, newest.ip)
	}
}

// expireLocked drops reservations older than pendingTTL. The pending map is
// empty except for the microseconds between a quota check and the creation
// event, so walking it is cheap.
func (q *quota) expireLocked(now time.Time) {
	for k, p := range q.pending {
		if now.After(p.until) {
			delete(q.pending, k)
			q.releaseLocked(p.user, p.ip)
		}
	}
}

func (q *quota) releaseLocked(user string, ip netip.Prefix) {
	if n := q.users[user] - 1; n > 0 {
		q.users[user] = n
	} else {
		delete(q.users, user)
	}
	if n := q.ips[ip] - 1; n > 0 {
		q.ips[ip] = n
	} else {
		delete(q.ips, ip)
	}
}

// pendingKey identifies the 5-tuple an Allocate came from (the destination
// is one of our listeners, so the source and transport are enough).
func pendingKey(src net.Addr) string {
	if src == nil {
		return ""
	}
	return src.Network() + " " + src.String()
}

// clientPrefix is the unit the per-IP cap counts: the IPv4 address, or the
// IPv6 /64.
func clientPrefix(src net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := src.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if src != nil {
			if ap, err := netip.ParseAddrPort(src.String()); err == nil {
				ip = ap.Addr()
			}
		}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(ipv6QuotaBits)
		return p
	}
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	return netip.Prefix{}
}

// onQuota is pion's QuotaHandler; false makes pion answer 486.
func (s *Server) onQuota(userID, _ string, src net.Addr) bool {
	reason, ok := s.quota.allow(userID, src)
	if !ok {
		s.refuseAllocation(reason)
		s.log.Debug("turn: allocation refused: quota reached", "client", addrString(src), "reason", reason.String())
	}
	return ok
}
