// A servlet loaded at start-up whose init fails (scenario "servlet").
package com.example.lui;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;

public class LuiServlet extends HttpServlet {
    @Override
    public void init() throws ServletException {
        if ("servlet".equals(getServletContext().getInitParameter("scenario"))) {
            throw new ServletException("The job scheduler cannot start: no database connection",
                    new java.sql.SQLNonTransientConnectionException("pool closed"));
        }
    }
}
