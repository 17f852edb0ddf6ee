package ocpp

import "sync"

// Buffers come from size classes so that an idle connection holds none and a
// busy one borrows only what its message needs.
var bufClasses = [...]int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

var bufPools [len(bufClasses)]sync.Pool

// getBuf returns a buffer of length 0 and capacity at least n.
func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				*b = (*b)[:0]
				return b
			}
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf returns a buffer to its class; buffers that grew past the largest
// class are left to the garbage collector.
func putBuf(b *[]byte) {
	c := cap(*b)
	for i := len(bufClasses) - 1; i >= 0; i-- {
		if c >= bufClasses[i] {
			if c > bufClasses[len(bufClasses)-1]*2 {
				return
			}
			bufPools[i].Put(b)
			return
		}
	}
}

// grow makes room for n more bytes, moving to a larger pooled buffer when
// needed. It returns the (possibly new) buffer.
func grow(b *[]byte, n int) *[]byte {
	if cap(*b)-len(*b) >= n {
		return b
	}
	nb := getBuf(len(*b) + n)
	*nb = append(*nb, *b...)
	putBuf(b)
	return nb
}
