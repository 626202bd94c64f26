// A filter whose init fails (scenario "filter"): Tomcat logs
// "One or more Filters failed to start" and the context does not start.
package com.example.lui;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import java.io.IOException;

public class LuiFilter implements Filter {
    @Override
    public void init(FilterConfig cfg) throws ServletException {
        if ("filter".equals(cfg.getServletContext().getInitParameter("scenario"))) {
            throw new ServletException("Session filter cannot read its key store /opt/lsoft/maestro/lui/keys.jks");
        }
    }

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
            throws IOException, ServletException {
        chain.doFilter(req, res);
    }
}
