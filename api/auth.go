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
)

func (a access) String() string {
	return [...]string{"public", "user", "admin", "system"}[a]
}

const (
	principalKey = "callrecd.principal"
	headerToken  = "X-Auth-Token"
	headerTenant = "Wazo-Tenant"
)

// principal is the authenticated caller and the tenant it acts on.
type principal struct {
	token  store.Token
	tenant string // "" only for a system token without Wazo-Tenant: every tenant
	user   string // set for user tokens
}

func (p *principal) actor() string { return "token:" + p.token.ID }

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
// before the route's handler runs.
func (s *server) guard(r route) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(loggerKey, s.log)
		if r.access == accessPublic || (r.path == "/metrics" && s.public) {
			return r.handler(c)
		}
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
			return errUnauthorized("missing X-Auth-Token")
		}
		tok, err := s.store.Authenticate(c.Request().Context(), plain)
		if errors.Is(err, store.ErrNotFound) {
			return errUnauthorized("invalid or revoked token")
		} else if err != nil {
			return err
		}
		p := &principal{token: tok, tenant: tok.TenantUUID, user: tok.UserUUID}
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
				return errUnauthorized("this token may not act on tenant " + t)
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
			return errForbidden("a " + tok.Role + " token may not use this route (needs " + r.access.String() + ")")
		}
		return r.handler(c)
	}
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
