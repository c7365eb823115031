// Package layering holds no code: its test enforces the dependency direction written down in
// the README: cmd -> app -> services -> gateway; services/admin -> store -> ent; the request
// path (gateway/) never imports storage; nothing imports services/, app/ or cmd/.
package layering
