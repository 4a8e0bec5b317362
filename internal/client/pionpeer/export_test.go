package pionpeer

// WithGlare makes a participant offer to every newcomer as well, so that
// offers collide and perfect negotiation has to resolve them.
func WithGlare(c Config) Config {
	c.offerOnPeerJoined = true
	return c
}
