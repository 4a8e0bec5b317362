package signaling

import "fmt"

// Mode is a room's current media path.
type Mode int

// The media paths a room can be on.
const (
	ModeMesh Mode = iota // every browser connected to every other
	ModeSFU              // every browser connected to the server's SFU
)

func (m Mode) String() string {
	switch m {
	case ModeMesh:
		return "mesh"
	case ModeSFU:
		return "sfu"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MarshalText writes the mode as protocol.md spells it.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Policy decides which modes a room may use (docs/architecture.md §2).
type Policy int

// The room policies.
const (
	PolicyAuto     Policy = iota // mesh up to mesh_max, SFU beyond
	PolicyMeshOnly               // mesh, capped at mesh_max
	PolicySFUOnly                // always SFU
)

func (p Policy) String() string {
	switch p {
	case PolicyAuto:
		return "auto"
	case PolicyMeshOnly:
		return "mesh-only"
	case PolicySFUOnly:
		return "sfu-only"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// MarshalText writes the policy as protocol.md spells it.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// ParsePolicy is the inverse of Policy.String.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{PolicyAuto, PolicyMeshOnly, PolicySFUOnly} {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("policy %q is not auto, mesh-only or sfu-only", s)
}

// UnmarshalText parses a mode as protocol.md spells it.
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "mesh":
		*m = ModeMesh
	case "sfu":
		*m = ModeSFU
	default:
		return fmt.Errorf("mode %q is not mesh or sfu", b)
	}
	return nil
}

// UnmarshalText parses a policy as protocol.md spells it.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
