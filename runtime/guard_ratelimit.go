package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// RateLimitSettings configures the rate limit of one route.
type RateLimitSettings struct {
	// Rate is the sustained number of requests per second that one client
	// may send to the route. It must be positive.
	Rate float64
	// Burst is the number of requests a client may send at once after
	// being idle (the token bucket's size). Zero means Rate rounded up,
	// and at least 1.
	Burst int
	// TrustedProxies lists the addresses of reverse proxies in front of
	// megaflow. A request from one of them is limited by the client
	// address in its X-Forwarded-For header: the rightmost address that
	// is not itself a trusted proxy. Empty means X-Forwarded-For is
	// ignored, since any client can send it.
	TrustedProxies []netip.Prefix
	// MaxClients bounds the number of clients tracked at once, and so the
	// guard's memory (about 200 bytes per client, an estimate). Zero means
	// 100000. Past it, the buckets of idle clients are dropped first, then
	// the least recently seen.
	MaxClients int
}

// DefaultRateLimitMaxClients is the default of RateLimitSettings.MaxClients.
const DefaultRateLimitMaxClients = 100_000

// rateLimitShards spreads clients over independently locked maps so that
// concurrent requests rarely wait for each other.
const rateLimitShards = 32

// RateLimitGuard limits each client of a route to a token bucket of
// requests: past it the client gets 429 with Retry-After. The client is
// the Principal an earlier AuthGuard stored (API key name or JWT subject),
// else the client's IP address.
//
// Checking a request from a known client does not allocate, except that
// reading an IPv6 address from X-Forwarded-For allocates one string.
type RateLimitGuard struct {
	limit    rate.Limit
	burst    int
	idle     time.Duration // a bucket unused this long is full again
	trusted  []netip.Prefix
	perShard int
	seed     maphash.Seed
	shards   [rateLimitShards]rateLimitShard
}

type rateLimitShard struct {
	mu      sync.Mutex
	buckets map[string]*clientBucket
}

type clientBucket struct {
	limiter  *rate.Limiter
	lastSeen atomic.Int64 // Unix nanoseconds
}

// NewRateLimitGuard returns the guard that set describes. It fails when
// Rate is not positive or Burst or MaxClients is negative.
func NewRateLimitGuard(set RateLimitSettings) (*RateLimitGuard, error) {
	if !(set.Rate > 0) || math.IsInf(set.Rate, 1) {
		return nil, fmt.Errorf("rate limit %v requests per second is invalid; give a positive number", set.Rate)
	}
	if set.Burst < 0 {
		return nil, fmt.Errorf("rate limit burst %d is negative; give 0 for the default or a positive number", set.Burst)
	}
	if set.MaxClients < 0 {
		return nil, fmt.Errorf("rate limit max clients %d is negative; give 0 for the default or a positive number", set.MaxClients)
	}
	burst := set.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(set.Rate)))
	}
	maxClients := cmpOr(set.MaxClients, DefaultRateLimitMaxClients)
	g := &RateLimitGuard{
		limit:    rate.Limit(set.Rate),
		burst:    burst,
		idle:     time.Duration(float64(burst) / set.Rate * float64(time.Second)),
		trusted:  append([]netip.Prefix(nil), set.TrustedProxies...),
		perShard: max(1, (maxClients+rateLimitShards-1)/rateLimitShards),
		seed:     maphash.MakeSeed(),
	}
	for i := range g.shards {
		g.shards[i].buckets = map[string]*clientBucket{}
	}
	return g, nil
}

// Check implements Guard.
func (g *RateLimitGuard) Check(ctx *fasthttp.RequestCtx) *Error {
	var keyBuf [64]byte
	key := g.clientKey(ctx, keyBuf[:0])
	now := time.Now()
	b := g.bucket(key, now)
	if b.limiter.AllowN(now, 1) {
		return nil
	}
	// The bucket lacks (1 - tokens) tokens, refilled at limit per second.
	wait := time.Duration((1 - b.limiter.TokensAt(now)) / float64(g.limit) * float64(time.Second))
	return &Error{Status: fasthttp.StatusTooManyRequests, Message: "rate limit exceeded; retry later", RetryAfter: max(wait, time.Second)}
}

// bucket returns the client's bucket, creating it when missing.
func (g *RateLimitGuard) bucket(key []byte, now time.Time) *clientBucket {
	shard := &g.shards[maphash.Bytes(g.seed, key)%rateLimitShards]
	shard.mu.Lock()
	b := shard.buckets[string(key)]
	if b == nil {
		if len(shard.buckets) >= g.perShard {
			g.evict(shard, now)
		}
		b = &clientBucket{limiter: rate.NewLimiter(g.limit, g.burst)}
		shard.buckets[string(key)] = b
	}
	shard.mu.Unlock()
	b.lastSeen.Store(now.UnixNano())
	return b
}

// evict makes room in a full shard. Buckets idle long enough to be full
// again go first: dropping them changes nothing for their clients. When
// none is idle, the least recently seen bucket goes, which gives that
// client a fresh burst.
func (g *RateLimitGuard) evict(shard *rateLimitShard, now time.Time) {
	idleBefore := now.Add(-g.idle).UnixNano()
	var (
		oldestKey  string
		oldestSeen int64 = math.MaxInt64
	)
	for k, b := range shard.buckets {
		seen := b.lastSeen.Load()
		if seen < idleBefore {
			delete(shard.buckets, k)
			continue
		}
		if seen < oldestSeen {
			oldestKey, oldestSeen = k, seen
		}
	}
	if len(shard.buckets) >= g.perShard {
		delete(shard.buckets, oldestKey)
	}
}

// Clients returns the number of clients tracked.
func (g *RateLimitGuard) Clients() int {
	n := 0
	for i := range g.shards {
		g.shards[i].mu.Lock()
		n += len(g.shards[i].buckets)
		g.shards[i].mu.Unlock()
	}
	return n
}

// clientKey appends the key that identifies the request's client:
// "api_key:NAME", "jwt:SUB", or "ip:" and the address's bytes.
func (g *RateLimitGuard) clientKey(ctx *fasthttp.RequestCtx, dst []byte) []byte {
	if p := PrincipalOf(ctx); p != nil && p.Name != "" {
		dst = append(dst, p.Kind...)
		dst = append(dst, ':')
		return append(dst, p.Name...)
	}
	addr := g.clientAddr(ctx)
	dst = append(dst, "ip:"...)
	if addr.Is4() {
		ip := addr.As4()
		return append(dst, ip[:]...)
	}
	ip := addr.As16()
	return append(dst, ip[:]...)
}

const headerXForwardedFor = "X-Forwarded-For"

// clientAddr returns the client's IP address: the peer's, or, when the
// peer is a trusted proxy, the rightmost untrusted address of
// X-Forwarded-For (RFC 7239 §5.2 describes the same walk for Forwarded).
func (g *RateLimitGuard) clientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := remoteAddr(ctx)
	if len(g.trusted) == 0 || !g.isTrusted(peer) {
		return peer
	}
	client := peer
	forwarded := ctx.Request.Header.PeekAll(headerXForwardedFor)
	// Walk the hops from the nearest one back; several header lines
	// count as one comma-separated list in order (RFC 9110 §5.3).
	for i := len(forwarded) - 1; i >= 0; i-- {
		list := forwarded[i]
		for len(list) > 0 {
			hop := list
			if j := bytes.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				list = nil
			}
			addr, err := parseAddr(bytes.TrimSpace(hop))
			if err != nil {
				// A malformed hop ends the walk: what lies beyond it
				// cannot be trusted.
				return client
			}
			client = addr.Unmap()
			if !g.isTrusted(client) {
				return client
			}
		}
	}
	return client
}

func (g *RateLimitGuard) isTrusted(a netip.Addr) bool {
	for _, p := range g.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses an IP address. Dotted IPv4 addresses, the common case
// in X-Forwarded-For, are parsed without allocating; others go through
// netip.ParseAddr.
func parseAddr(b []byte) (netip.Addr, error) {
	var ip [4]byte
	part, digits := 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9' && digits < 3:
			if digits > 0 && ip[part] == 0 {
				return netip.ParseAddr(string(b)) // leading zero: let netip reject it
			}
			n := int(ip[part])*10 + int(c-'0')
			if n > 255 {
				return netip.ParseAddr(string(b))
			}
			ip[part] = byte(n)
			digits++
		case c == '.' && digits > 0 && part < 3:
			part++
			digits = 0
		default:
			return netip.ParseAddr(string(b))
		}
	}
	if part != 3 || digits == 0 {
		return netip.ParseAddr(string(b))
	}
	return netip.AddrFrom4(ip), nil
}

// remoteAddr returns the peer's IP address, or the zero Addr when the
// connection is not TCP.
func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	tcp, ok := ctx.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(tcp.IP)
	return a.Unmap()
}

// ParseTrustedProxies parses addresses and CIDR prefixes such as
// "10.0.0.0/8" or "127.0.0.1" for RateLimitSettings.TrustedProxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted proxy %q is not an IP address or CIDR prefix", s))
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, errors.Join(errs...)
}
