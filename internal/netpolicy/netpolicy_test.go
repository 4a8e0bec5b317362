package netpolicy

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestClassifyRanges checks every refused range at its first and last
// address, and the public addresses just outside it where there are some.
func TestClassifyRanges(t *testing.T) {
	cases := []struct {
		addr string
		want Reason
	}{
		{"0.0.0.0", Unspecified}, {"0.255.255.255", Unspecified}, {"1.0.0.0", Public},
		{"10.0.0.0", Private}, {"10.0.0.1", Private}, {"10.255.255.255", Private}, {"9.255.255.255", Public}, {"11.0.0.0", Public},
		{"100.64.0.0", SharedAddress}, {"100.127.255.255", SharedAddress}, {"100.63.255.255", Public}, {"100.128.0.0", Public},
		{"127.0.0.0", Loopback}, {"127.0.0.1", Loopback}, {"127.255.255.255", Loopback}, {"126.255.255.255", Public}, {"128.0.0.0", Public},
		{"169.254.0.0", LinkLocal}, {"169.254.169.254", LinkLocal}, {"169.254.255.255", LinkLocal}, {"169.253.255.255", Public}, {"169.255.0.0", Public},
		{"172.16.0.0", Private}, {"172.31.255.255", Private}, {"172.15.255.255", Public}, {"172.32.0.0", Public},
		{"192.0.0.0", IETFProtocol}, {"192.0.0.255", IETFProtocol}, {"191.255.255.255", Public},
		{"192.0.2.0", Documentation}, {"192.0.2.255", Documentation}, {"192.0.1.255", Public}, {"192.0.3.0", Public},
		{"192.88.99.0", SixToFour}, {"192.88.99.255", SixToFour}, {"192.88.98.255", Public},
		{"192.168.0.0", Private}, {"192.168.255.255", Private}, {"192.167.255.255", Public}, {"192.169.0.0", Public},
		{"198.18.0.0", Benchmarking}, {"198.19.255.255", Benchmarking}, {"198.17.255.255", Public}, {"198.20.0.0", Public},
		{"198.51.100.0", Documentation}, {"198.51.100.255", Documentation}, {"198.51.99.255", Public}, {"198.51.101.0", Public},
		{"203.0.113.0", Documentation}, {"203.0.113.255", Documentation}, {"203.0.112.255", Public}, {"203.0.114.0", Public},
		{"224.0.0.0", Multicast}, {"239.255.255.255", Multicast}, {"223.255.255.255", Public},
		{"240.0.0.0", Reserved}, {"255.255.255.254", Reserved},
		{"255.255.255.255", Broadcast},
		{"8.8.8.8", Public}, {"1.1.1.1", Public},

		{"::", Unspecified},
		{"::1", Loopback}, {"::2", IPv4Compatible}, {"::7f00:1", IPv4Compatible}, {"::ffff:ffff", IPv4Compatible},
		{"::1:0:0", Public},
		{"::ffff:0:0:0", NAT64}, {"::ffff:0:7f00:1", NAT64},
		{"fe80::", LinkLocal}, {"fe80::1", LinkLocal}, {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal},
		{"fec0::1", UniqueLocal}, {"feff:ffff::1", UniqueLocal},
		{"fc00::", UniqueLocal}, {"fd12:3456::1", UniqueLocal}, {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UniqueLocal}, {"fbff:ffff::1", Public},
		{"64:ff9b::", NAT64}, {"64:ff9b::a00:1", NAT64}, {"64:ff9b::ffff:ffff", NAT64}, {"64:ff9b::1:0:0", Public},
		{"64:ff9b:1::", NAT64}, {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", NAT64}, {"64:ff9b:2::", Public},
		{"2002::", SixToFour}, {"2002:7f00:1::1", SixToFour}, {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SixToFour}, {"2003::1", Public},
		{"2001:db8::", Documentation}, {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation}, {"2001:db9::1", Public},
		{"ff00::", Multicast}, {"ff02::1", Multicast}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Multicast},
		{"100::", Discard}, {"100::ffff:ffff:ffff:ffff", Discard}, {"100:0:0:1::", Public},
		{"2001:4860:4860::8888", Public}, {"2606:4700::1111", Public},
	}
	for _, c := range cases {
		addr := netip.MustParseAddr(c.addr)
		if got := Classify(addr); got != c.want {
			t.Errorf("Classify(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}

// TestClassifyMapped checks that IPv4-mapped IPv6 addresses are classified by
// the IPv4 address inside them: the coturn CVE-2020-26262 slip.
func TestClassifyMapped(t *testing.T) {
	cases := []struct {
		addr string
		want Reason
	}{
		{"::ffff:127.0.0.1", Loopback},
		{"::ffff:7f00:1", Loopback},
		{"::ffff:10.0.0.1", Private},
		{"::ffff:169.254.169.254", LinkLocal},
		{"::ffff:0.0.0.0", Unspecified},
		{"::ffff:255.255.255.255", Broadcast},
		{"::ffff:8.8.8.8", Public},
		{"fe80::1%eth0", LinkLocal},
	}
	for _, c := range cases {
		if got := Classify(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Classify(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
	if got := Classify(netip.Addr{}); got != Invalid {
		t.Errorf("Classify(zero) = %v, want invalid", got)
	}
}

func TestPolicyCheck(t *testing.T) {
	p, err := New([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::ffff:192.168.1.0/120"), // mapped form: must match 192.168.1.x
		netip.MustParsePrefix("fd00:1::/32"),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr   string
		reason Reason
		ok     bool
	}{
		{"8.8.8.8", Public, true},
		{"127.0.0.1", Loopback, true},
		{"::ffff:127.0.0.1", Loopback, true},
		{"192.168.1.20", Private, true},
		{"::ffff:192.168.1.20", Private, true},
		{"192.168.2.20", Private, false},
		{"10.0.0.1", Private, false},
		{"::ffff:10.0.0.1", Private, false},
		{"::1", Loopback, false},
		{"fd00:1::5", UniqueLocal, true},
		{"fd00:2::5", UniqueLocal, false},
		{"169.254.169.254", LinkLocal, false},
	}
	for _, c := range cases {
		reason, ok := p.Check(netip.MustParseAddr(c.addr))
		if reason != c.reason || ok != c.ok {
			t.Errorf("Check(%s) = %v, %v; want %v, %v", c.addr, reason, ok, c.reason, c.ok)
		}
	}

	// The default policy refuses everything special and allows public.
	def, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"127.0.0.1", "::ffff:127.0.0.1", "10.0.0.1", "::1", "0.0.0.0"} {
		if _, ok := def.Check(netip.MustParseAddr(s)); ok {
			t.Errorf("default policy allows %s", s)
		}
	}
	// Invalid is never allowed, even under an allow-everything list.
	all, err := New([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")})
	if err != nil {
		t.Fatal(err)
	}
	if reason, ok := all.Check(netip.Addr{}); ok || reason != Invalid {
		t.Errorf("Check(zero) = %v, %v", reason, ok)
	}
}

// TestPolicyCheckIP feeds the net.IP forms pion/turn hands to its
// permission hook: 4-byte, 16-byte IPv4-mapped and garbage.
func TestPolicyCheckIP(t *testing.T) {
	p, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ip     net.IP
		reason Reason
		ok     bool
	}{
		{net.IPv4(127, 0, 0, 1), Loopback, false}, // net.IPv4 returns the 16-byte mapped form
		{net.IPv4(127, 0, 0, 1).To4(), Loopback, false},
		{net.ParseIP("::ffff:10.0.0.1"), Private, false},
		{net.ParseIP("8.8.4.4"), Public, true},
		{net.IP{1, 2, 3}, Invalid, false},
		{nil, Invalid, false},
	}
	for _, c := range cases {
		reason, ok := p.CheckIP(c.ip)
		if reason != c.reason || ok != c.ok {
			t.Errorf("CheckIP(%v) = %v, %v; want %v, %v", c.ip, reason, ok, c.reason, c.ok)
		}
	}
}

func TestNewRejectsBadPrefixes(t *testing.T) {
	for _, prefix := range []netip.Prefix{{}, netip.MustParsePrefix("::ffff:0:0/80")} {
		if _, err := New([]netip.Prefix{prefix}); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("New(%v) err = %v, want ErrInvalidPrefix", prefix, err)
		}
	}
}

func TestReasonStringParse(t *testing.T) {
	seen := map[string]bool{}
	for r := Reason(0); r < reasonCount; r++ {
		s := r.String()
		if s == "" || seen[s] {
			t.Fatalf("Reason(%d) has empty or duplicate name %q", r, s)
		}
		seen[s] = true
		back, err := ParseReason(s)
		if err != nil || back != r {
			t.Errorf("ParseReason(%q) = %v, %v; want %v", s, back, err, r)
		}
	}
	if _, err := ParseReason("nope"); !errors.Is(err, ErrUnknownReason) {
		t.Errorf("ParseReason(nope) err = %v", err)
	}
	if s := Reason(-1).String(); s != "Reason(-1)" {
		t.Errorf("Reason(-1).String() = %q", s)
	}
	if NumReasons != len(reasonNames) {
		t.Errorf("NumReasons = %d, names = %d", NumReasons, len(reasonNames))
	}
}

// BenchmarkCheckIP measures the cost of the permission hook (it runs per
// CreatePermission/ChannelBind, not per packet) and checks it allocates
// nothing.
func BenchmarkCheckIP(b *testing.B) {
	p, err := New([]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")})
	if err != nil {
		b.Fatal(err)
	}
	ip := net.ParseIP("2606:4700::1111")
	b.ReportAllocs()
	for b.Loop() {
		p.CheckIP(ip)
	}
}
