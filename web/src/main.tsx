import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { App } from "./App";
import { sessionTokenStore } from "./lib/auth";
import { newApi } from "./lib/api";
import { ApiContext } from "./context";
import "./style.css";

const tokens = sessionTokenStore(window.sessionStorage);
const api = newApi(window.location.origin, tokens);
const queries = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ApiContext.Provider value={{ api, tokens }}>
      <QueryClientProvider client={queries}>
        <BrowserRouter basename="/ui">
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </ApiContext.Provider>
  </StrictMode>,
);
