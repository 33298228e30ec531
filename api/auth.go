package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// access is who may call a route.
type access int

const (
	accessPublic access = iota // health, OpenAPI
	accessUser                 // user tokens: the users/me forms
	accessAdmin                // tenant admins and system tokens
	accessSystem               // system tokens only
	// accessSession: the web session of the cookie, whatever its role; an
	// API token is not one (GET and DELETE /session).
	accessSession
)

func (a access) String() string {
	return [...]string{"public", "user", "admin", "system", "session"}[a]
}

const (
	principalKey = "callrecd.principal"
	headerToken  = "X-Auth-Token"
	headerTenant = "Wazo-Tenant"
)

// principal is the authenticated caller and the tenant it acts on. A web
// session's principal has a token too, of the session's role, tenant and
// user (and the id of the token signed in with, if any): handlers read
// p.token.Role the same way for both.
type principal struct {
	token   store.Token
	tenant  string // "" only for a system token without Wazo-Tenant: every tenant
	user    string // set for user tokens
	session *store.WebSession
}

// actor names the caller in the audit log: the account signed in, else
// the token (used directly or to sign in).
func (p *principal) actor() string {
	if p.session != nil && p.session.Username != "" {
		return "account:" + p.session.Username
	}
	return "token:" + p.token.ID
}

// kind is what the caller authenticated with, for error messages.
func (p *principal) kind() string {
	if p.session != nil {
		return "session"
	}
	return "token"
}

// needTenant returns the tenant a write applies to; a system token must
// name one with Wazo-Tenant.
func (p *principal) needTenant() (string, error) {
	if p.tenant == "" {
		return "", newError(http.StatusBadRequest, "tenant-required",
			"this request needs a tenant: send the Wazo-Tenant header", nil)
	}
	return p.tenant, nil
}

func getPrincipal(c echo.Context) *principal {
	p, _ := c.Get(principalKey).(*principal)
	return p
}

// guard authenticates the caller, resolves its tenant and checks its role
// before the route's handler runs. An API token (X-Auth-Token, Bearer,
// ?token=) comes first; without one the session cookie authenticates, and
// a state change with it must pass the CSRF check.
func (s *server) guard(r route) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(loggerKey, s.log)
		if r.access == accessPublic || (r.path == "/metrics" && s.public) {
			return r.handler(c)
		}
		if r.access == accessSession {
			p, err := s.sessionPrincipal(c)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return r.handler(c)
		}
		p, err := s.authenticate(c, r)
		if err != nil {
			return err
		}
		tok := p.token
		h := c.Request().Header.Get(headerTenant)
		if h == "" && r.tenantInQuery {
			h = c.QueryParam("tenant") // Wazo's call-logd reads ?tenant= where it reads ?token=
		}
		if h != "" {
			t, err := parseUUID(headerTenant, h)
			if err != nil {
				return err
			}
			switch {
			case tok.Role == store.RoleSystem:
				if _, err := s.store.GetTenant(c.Request().Context(), t); errors.Is(err, store.ErrNotFound) {
					return errUnauthorized("unknown tenant " + t)
				} else if err != nil {
					return err
				}
				p.tenant = t
			case t != tok.TenantUUID:
				return errUnauthorized("this " + p.kind() + " may not act on tenant " + t)
			}
		}
		c.Set(principalKey, p)
		ok := false
		switch r.access {
		case accessUser:
			ok = tok.Role == store.RoleUser
		case accessAdmin:
			ok = tok.Role == store.RoleAdmin || tok.Role == store.RoleSystem
		case accessSystem:
			ok = tok.Role == store.RoleSystem
		}
		if !ok {
			return errForbidden("a " + tok.Role + " " + p.kind() + " may not use this route (needs " + r.access.String() + ")")
		}
		return r.handler(c)
	}
}

// authenticate finds the caller of a guarded route: the API token sent,
// else the session cookie.
func (s *server) authenticate(c echo.Context, r route) (*principal, error) {
	plain := c.Request().Header.Get(headerToken)
	if plain == "" {
		if a := c.Request().Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			plain = strings.TrimPrefix(a, "Bearer ")
		}
	}
	if plain == "" && r.tokenInQuery {
		plain = c.QueryParam("token")
	}
	if plain == "" {
		if _, err := c.Cookie(sessionCookie); err == nil {
			return s.sessionPrincipal(c)
		}
		return nil, errUnauthorized("missing X-Auth-Token (or the session cookie of a sign-in)")
	}
	tok, err := s.store.Authenticate(c.Request().Context(), plain)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized("invalid or revoked token")
	} else if err != nil {
		return nil, err
	}
	return &principal{token: tok, tenant: tok.TenantUUID, user: tok.UserUUID}, nil
}

// parseUUID accepts a UUID in canonical 8-4-4-4-12 form, any case, and
// returns it lower-cased.
func parseUUID(field, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", errInvalid(field, "not a UUID")
	}
	return u.String(), nil
}

func pathUUID(c echo.Context, name string) (string, error) {
	return parseUUID(name, c.Param(name))
}
