package pionpeer

// Synthetic VP8 that a real decoder accepts. The load tool's frames are
// mostly filler (their size is what matters), but a browser watching them
// must decode them, or it shows nothing and asks for key frames forever:
// libvpx refuses a frame whose first partition is missing. So every frame
// starts with a genuine, tiny VP8 first partition (RFC 6386 §9, §19.2–19.3)
// written with the boolean entropy encoder of §7.3: no loop filter, one
// token partition, and every macroblock intra 16×16 DC-predicted with its
// coefficients skipped (mb_no_coeff_skip), so no token is ever read and the
// filler that follows — zeros and the stamps at the end of each RTP
// packet — is never decoded. The picture is flat grey, at the size the
// key frame declares.

// boolEncoder is RFC 6386 §7.3's boolean entropy encoder.
type boolEncoder struct {
	out      []byte
	rng      uint32 // 128 ≤ rng ≤ 255
	bottom   uint32
	bitCount int
}

func newBoolEncoder(buf []byte) *boolEncoder {
	return &boolEncoder{out: buf[:0], rng: 255, bitCount: 24}
}

// addOne propagates a carry into the bytes written.
func (e *boolEncoder) addOne() {
	i := len(e.out) - 1
	for i >= 0 && e.out[i] == 255 {
		e.out[i] = 0
		i--
	}
	if i >= 0 {
		e.out[i]++
	}
}

// put writes one bool whose probability of being false is prob/256.
func (e *boolEncoder) put(prob uint8, v bool) {
	split := 1 + (((e.rng - 1) * uint32(prob)) >> 8)
	if v {
		e.bottom += split
		e.rng -= split
	} else {
		e.rng = split
	}
	for e.rng < 128 {
		e.rng <<= 1
		if e.bottom&(1<<31) != 0 {
			e.addOne()
		}
		e.bottom <<= 1
		e.bitCount--
		if e.bitCount == 0 {
			e.out = append(e.out, byte(e.bottom>>24))
			e.bottom &= 1<<24 - 1
			e.bitCount = 8
		}
	}
}

// literal writes an n-bit unsigned value, most significant bit first, at
// even odds (the spec's L(n)).
func (e *boolEncoder) literal(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		e.put(128, v>>i&1 == 1)
	}
}

// flush writes what remains and returns the partition.
func (e *boolEncoder) flush() []byte {
	c, v := e.bitCount, e.bottom
	if v&(1<<(32-c)) != 0 {
		e.addOne()
	}
	v <<= c & 7
	for c >>= 3; c > 0; c-- {
		v <<= 8
	}
	for range 4 {
		e.out = append(e.out, byte(v>>24))
		v <<= 8
	}
	return e.out
}

// Probabilities the first partition uses (RFC 6386).
const (
	// probSkipFalse is our prob_skip_false: a macroblock is skipped (no
	// coefficients) with probability 255/256, nearly free to write.
	probSkipFalse = 1
	// probIntra is our prob_intra for inter frames: every macroblock is
	// intra, at almost no cost.
	probIntra = 255
)

// Fixed mode probabilities (§11.2 kf_ymode_prob, kf_uv_mode_prob; §16.1
// ymode_prob and uv_mode_prob, the defaults no frame here updates).
var (
	kfYModeProb  = [4]uint8{145, 156, 163, 128}
	kfUVModeProb = [3]uint8{142, 114, 183}
	yModeProb    = [4]uint8{112, 86, 140, 37}
	uvModeProb   = [3]uint8{162, 101, 204}
)

// vp8FirstPartition writes the first partition of a w×h frame: the frame
// header and every macroblock's header. buf is reused.
func vp8FirstPartition(buf []byte, key bool, w, h int) []byte {
	e := newBoolEncoder(buf)
	if key {
		e.literal(0, 1) // color_space
		e.literal(0, 1) // clamping_type
	}
	e.literal(0, 1) // segmentation_enabled
	e.literal(0, 1) // filter_type
	e.literal(0, 6) // loop_filter_level: no loop filter
	e.literal(0, 3) // sharpness_level
	e.literal(0, 1) // loop_filter_adj_enable
	e.literal(0, 2) // log2_nbr_of_dct_partitions: one
	e.literal(0, 7) // y_ac_qi
	for range 5 {   // y_dc, y2_dc, y2_ac, uv_dc, uv_ac deltas absent
		e.literal(0, 1)
	}
	if key {
		e.literal(0, 1) // refresh_entropy_probs
	} else {
		e.literal(0, 1) // refresh_golden_frame
		e.literal(0, 1) // refresh_alternate_frame
		e.literal(0, 2) // copy_buffer_to_golden
		e.literal(0, 2) // copy_buffer_to_alternate
		e.literal(0, 1) // sign_bias_golden
		e.literal(0, 1) // sign_bias_alternate
		e.literal(0, 1) // refresh_entropy_probs
		e.literal(1, 1) // refresh_last
	}
	for i := range coeffUpdateProbs { // token_prob_update: none
		for j := range coeffUpdateProbs[i] {
			for k := range coeffUpdateProbs[i][j] {
				for _, p := range coeffUpdateProbs[i][j][k] {
					e.put(p, false)
				}
			}
		}
	}
	e.literal(1, 1) // mb_no_coeff_skip
	e.literal(probSkipFalse, 8)
	if !key {
		e.literal(probIntra, 8)
		e.literal(128, 8) // prob_last (unused: nothing is inter)
		e.literal(128, 8) // prob_gf
		e.literal(0, 1)   // intra_16x16_prob_update_flag
		e.literal(0, 1)   // intra_chroma_prob_update_flag
		for i := range mvUpdateProbs {
			for _, p := range mvUpdateProbs[i] {
				e.put(p, false)
			}
		}
	}
	mbs := ((w + 15) / 16) * ((h + 15) / 16)
	for range mbs {
		e.put(probSkipFalse, true) // mb_skip_coeff
		if key {
			// kf_ymode_tree: DC_PRED is 1, 0, 0; uv DC_PRED is 0.
			e.put(kfYModeProb[0], true)
			e.put(kfYModeProb[1], false)
			e.put(kfYModeProb[2], false)
			e.put(kfUVModeProb[0], false)
			continue
		}
		e.put(probIntra, false)     // is_inter_mb: intra
		e.put(yModeProb[0], false)  // ymode_tree: DC_PRED is 0
		e.put(uvModeProb[0], false) // uv DC_PRED
	}
	return e.flush()
}

// mvUpdateProbs is RFC 6386 §17.2's vp8_mv_update_probs.
var mvUpdateProbs = [2][19]uint8{
	{237, 246, 253, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 250, 250, 252, 254, 254},
	{231, 243, 245, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 251, 251, 254, 254, 254},
}

// coeffUpdateProbs is RFC 6386 §13.4's coeff_update_probs.
var coeffUpdateProbs = [4][8][3][11]uint8{
	{
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{176, 246, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{223, 241, 252, 255, 255, 255, 255, 255, 255, 255, 255},
			{249, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 244, 252, 255, 255, 255, 255, 255, 255, 255, 255},
			{234, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 246, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{239, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{251, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{251, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 253, 255, 254, 255, 255, 255, 255, 255, 255},
			{250, 255, 254, 255, 254, 255, 255, 255, 255, 255, 255},
			{254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
	},
	{
		{
			{217, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{225, 252, 241, 253, 255, 255, 254, 255, 255, 255, 255},
			{234, 250, 241, 250, 253, 255, 253, 254, 255, 255, 255},
		},
		{
			{255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{223, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{238, 253, 254, 254, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{249, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 253, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{247, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{252, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
	},
	{
		{
			{186, 251, 250, 255, 255, 255, 255, 255, 255, 255, 255},
			{234, 251, 244, 254, 255, 255, 255, 255, 255, 255, 255},
			{251, 251, 243, 253, 254, 255, 254, 255, 255, 255, 255},
		},
		{
			{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{236, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{251, 253, 253, 254, 254, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
	},
	{
		{
			{248, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{250, 254, 252, 254, 255, 255, 255, 255, 255, 255, 255},
			{248, 254, 249, 253, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{246, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{252, 254, 251, 254, 254, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 254, 252, 255, 255, 255, 255, 255, 255, 255, 255},
			{248, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{253, 255, 254, 254, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{245, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{253, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 251, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{252, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 252, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{249, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 253, 255, 255, 255, 255, 255, 255, 255, 255},
			{250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
		{
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
		},
	},
}
