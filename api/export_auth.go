package api

import (
	"errors"
	"net/http"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// exportAuth runs before guard on the export routes, for what Wazo's
// clients send there that guard does not read:
//   - the download accepts the e-mailed link's token, which downloads that
//     one export (and nothing else) until it expires;
//   - POST …/export reads ?tenant_uuid= as Wazo-Tenant (Wazo's Python
//     client sends the tenant there).
//
// Every other route goes straight to next (guard).
func (s *server) exportAuth(r route, next echo.HandlerFunc) echo.HandlerFunc {
	switch {
	case r.method == http.MethodPost && r.path == exportPath:
		return func(c echo.Context) error {
			req := c.Request()
			if req.Header.Get(headerTenant) == "" && c.QueryParam("tenant_uuid") != "" {
				req.Header.Set(headerTenant, c.QueryParam("tenant_uuid"))
			}
			return next(c)
		}
	case r.method == http.MethodGet && r.path == exportDownload:
		return func(c echo.Context) error {
			plain := c.Request().Header.Get(headerToken)
			if plain == "" {
				plain = c.QueryParam("token")
			}
			if plain == "" || s.exports == nil {
				return next(c)
			}
			link, valid, err := s.exports.Link(c.Request().Context(), plain)
			if errors.Is(err, store.ErrNotFound) {
				return next(c) // an API token: guard checks it
			} else if err != nil {
				return err
			}
			id, _ := parseUUID("export_uuid", c.Param("export_uuid"))
			if t := c.QueryParam("tenant"); id != link.ExportUUID || (t != "" && t != link.TenantUUID) {
				return errExportNotFound(c.Param("export_uuid"))
			}
			if !valid {
				return errUnauthorized("this download link has expired")
			}
			c.Set(loggerKey, s.log)
			c.Set(principalKey, &principal{tenant: link.TenantUUID,
				token: store.Token{ID: "export-link:" + link.ExportUUID, Role: "export_link", TenantUUID: link.TenantUUID}})
			return r.handler(c)
		}
	}
	return next
}
