package pionpeer

import "fmt"

// Kind is the media kind of a track. It is its own type, rather than
// webrtc.RTPCodecType, so that statistics keys read as "audio"/"video" and
// cannot hold the unknown codec type.
type Kind int

// The kinds a participant publishes and counts.
const (
	KindAudio Kind = iota + 1
	KindVideo
)

func (k Kind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindVideo:
		return "video"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind is the inverse of String.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "audio":
		return KindAudio, nil
	case "video":
		return KindVideo, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownKind, s)
}
