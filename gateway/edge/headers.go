package edge

import "net/http"

// SetID sets X-Request-Id: the request's id, on h, with no allocation beyond the request's.
func (r *Request) SetID(h http.Header) {
	r.idValue[0] = r.ID
	h["X-Request-Id"] = r.idValue[:]
}
