// End-to-end run of the web app in Chromium (playwright-core + the system's chromium, no
// browser download) against a running gateway. app/web_e2e_test.go starts the gateway and
// runs this script; it can also run by hand against `make run`:
//
//   LLMGW_URL=http://127.0.0.1:8080 LLMGW_TOKEN=<admin token> LLMGW_USER_KEY=<a plain user's key> \
//   LLMGW_TEAM_ADMIN_KEY=<a key of lena, team admin of "sre"> LLMGW_FAKE_OPENAI=<an OpenAI-compatible base URL, with /v1> \
//   LLMGW_SSO_PROVIDER=<login identity provider's name> LLMGW_SSO_ISSUER=<its issuer> node e2e/e2e.mjs
//
// Every check prints "ok <what>"; the last line is "N passed, 0 failed". Any failure throws
// and exits non-zero. Screenshots of every page go to LLMGW_SCREENSHOTS (default
// ../docs/screenshots).
import { chromium } from "playwright-core";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const url = process.env.LLMGW_URL;
const token = process.env.LLMGW_TOKEN;
// userKey is a key of a user with no Admin API role.
const userKey = process.env.LLMGW_USER_KEY;
// teamAdminKey is a key of a team admin of the team "sre" (user "lena"). The viewer the
// script signs in as (user "vera") it creates itself.
const teamAdminKey = process.env.LLMGW_TEAM_ADMIN_KEY;
// fakeOpenAI is the base URL (with /v1) of a fake OpenAI-compatible upstream.
const fakeOpenAI = process.env.LLMGW_FAKE_OPENAI;
// The login identity provider (a test OpenID provider that logs in a user with the viewer
// role at once) and its issuer, when the gateway has one.
const ssoProvider = process.env.LLMGW_SSO_PROVIDER;
const ssoIssuer = process.env.LLMGW_SSO_ISSUER;
if (!url || !token || !userKey || !teamAdminKey || !fakeOpenAI || !ssoProvider || !ssoIssuer) {
  throw new Error("set LLMGW_URL, LLMGW_TOKEN, LLMGW_USER_KEY, LLMGW_TEAM_ADMIN_KEY, LLMGW_FAKE_OPENAI, LLMGW_SSO_PROVIDER and LLMGW_SSO_ISSUER");
}
const reEscape = (v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const shots = process.env.LLMGW_SCREENSHOTS ?? path.resolve(import.meta.dirname, "../../docs/screenshots");
const exe = process.env.LLMGW_CHROMIUM ?? ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => existsSync(p));
if (!exe) throw new Error("no chromium: install Debian's chromium package (apt-get install chromium) or set LLMGW_CHROMIUM");
mkdirSync(shots, { recursive: true });
rmSync(path.join(shots, "failure.png"), { force: true });

let passed = 0;
function ok(what) {
  passed++;
  console.log(`ok ${what}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`failed: ${what}`);
  ok(what);
}

const browser = await chromium.launch({
  executablePath: exe,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  // The CSP must refuse nothing the app needs, and the app must throw nothing.
  const problems = [];
  page.on("console", (m) => {
    // The refusals the run provokes on purpose (bad token, invalid or duplicate input, the
    // Admin API probe of a plain user, the rate limit, the Playground's polling of a usage
    // event not yet written) log
    // "Failed to load resource" with their status; anything else is a problem.
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of (400|401|403|404|409|429)/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  // fieldShows waits until the control's description (its error) holds text.
  const fieldShows = async (control, text) => {
    await page.getByText(text).first().waitFor();
    const ids = ((await control.getAttribute("aria-describedby")) ?? "").split(" ").filter(Boolean);
    const described = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).textContent()));
    if (!described.some((d) => d.includes(text))) throw new Error(`failed: "${text}" is not the error of its field (${described})`);
  };
  // Every page is checked with axe-core before its screenshot: no violation of serious or
  // critical impact (WCAG 2 A and AA rules). evaluate() runs over the DevTools protocol, so
  // the page's CSP still refuses any script of its own that is not the app's.
  const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  const accessible = async (name) => {
    if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    check(violations.length === 0, `${name}: no serious or critical axe-core violations${violations.length ? ` (${violations.join("; ")})` : ""}`);
  };
  const shot = async (name) => {
    await accessible(name);
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };

  // Sign in: the gateway's root sends the browser to the app, which asks for a token.
  await page.goto(url + "/");
  await page.getByRole("heading", { name: "Sign in to llmgw" }).waitFor();
  check(new URL(page.url()).pathname === "/ui/signin", `/ leads to the sign-in page (${page.url()})`);
  await shot("signin");
  await page.getByLabel("Admin token or API key").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("The gateway did not accept this token").waitFor();
  ok("a wrong token is refused next to the field");
  await page.getByLabel("Admin token or API key").fill(token);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Users" }).waitFor();
  check(!page.url().includes(token), "the token is not in the URL");
  check((await page.evaluate(() => sessionStorage.getItem("llmgw.token"))) === token, "the token is kept in sessionStorage");
  check((await page.evaluate(() => localStorage.length)) === 0, "nothing is kept in localStorage");

  // Keyboard: the first Tab reaches the skip link.
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "Tab reaches the skip link first");

  // Teams & access: the team "eng" and a rule that lets it call the mock models.
  await page.getByRole("link", { name: "Teams & access" }).click();
  const teamForm = page.getByRole("form", { name: "Create a team" });
  await teamForm.getByLabel("Team name").fill("eng");
  await teamForm.getByLabel("Description").fill("Engineering");
  await teamForm.getByRole("button", { name: "Create team" }).click();
  await page.getByRole("table", { name: "Teams" }).getByRole("row", { name: /eng Engineering/ }).waitFor();
  ok("a team is created and listed");
  const ruleForm = page.getByRole("form", { name: "Create an access rule" });
  await ruleForm.getByLabel("Rule name").fill("eng-mock");
  await ruleForm.getByLabel("Models (comma-separated)").fill("mock/*");
  await ruleForm.getByRole("button", { name: "Create rule" }).click();
  await fieldShows(ruleForm.getByLabel("For users (comma-separated)"), "name at least one user or team");
  ok("a rule for nobody is refused before sending");
  await ruleForm.getByLabel("For teams (comma-separated)").fill("eng");
  await ruleForm.getByRole("button", { name: "Create rule" }).click();
  await page.getByRole("table", { name: "Access rules" }).getByRole("row", { name: /eng-mock mock\/\* eng/ }).waitFor();
  ok("an access rule is created and listed");
  await page.getByRole("button", { name: "Edit team eng" }).click();
  const teamEdit = page.getByRole("form", { name: "Edit team eng" });
  await teamEdit.getByLabel("Description").fill("Engineering, all of it");
  await teamEdit.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Teams" }).getByRole("row", { name: /eng Engineering, all of it/ }).waitFor();
  ok("a team is edited (UpdateTeam)");
  await teamForm.getByLabel("Team name").fill("tmp");
  await teamForm.getByRole("button", { name: "Create team" }).click();
  await page.getByRole("table", { name: "Teams" }).getByRole("row", { name: /tmp/ }).waitFor();
  await page.getByRole("button", { name: "Delete team tmp" }).click();
  await page.getByRole("button", { name: "Confirm delete team tmp" }).click();
  await page.getByRole("table", { name: "Teams" }).getByRole("row", { name: /tmp/ }).waitFor({ state: "detached" });
  ok("a team is deleted after a confirmation");
  await page.getByRole("button", { name: "Edit rule eng-mock" }).click();
  const ruleEdit = page.getByRole("form", { name: "Edit rule eng-mock" });
  await ruleEdit.getByLabel("Teams").fill("");
  await ruleEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(ruleEdit.getByLabel("Users"), "name at least one user, team or virtual account");
  ok("an access rule edited to name nobody is refused before sending");
  await ruleEdit.getByLabel("Teams").fill("eng");
  await ruleEdit.getByLabel("Models").fill("mock/*, web-openai/*");
  await ruleEdit.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Access rules" }).getByRole("row", { name: /eng-mock mock\/\*, web-openai\/\*\s+eng/ }).waitFor();
  ok("an access rule is edited (UpdateAuthzRule)");
  await shot("access");
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();

  // Users: the form checks before sending, and shows the server's error at the field it names.
  const userForm = page.getByRole("form", { name: "Create a user" });
  const nameInput = userForm.getByLabel("Name", { exact: true });
  await nameInput.fill("Bad Name");
  await userForm.getByRole("button", { name: "Create user" }).click();
  await userForm.getByText("user.name must be 1 to 63 lowercase").waitFor();
  check((await nameInput.getAttribute("aria-invalid")) === "true", "an invalid name is refused before sending, at the Name field");
  await nameInput.fill("alice");
  await userForm.getByLabel("Email (optional)").fill("alice@example.com");
  const teamsInput = userForm.getByLabel("Teams (comma-separated)");
  await teamsInput.fill("ops");
  await userForm.getByRole("button", { name: "Create user" }).click();
  await fieldShows(teamsInput, 'team "ops" does not exist');
  ok("the server's error naming a missing team is shown at the Teams field");
  await teamsInput.fill("eng");
  await userForm.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("row", { name: /alice alice@example\.com eng/ }).waitFor();
  ok("a user is created and listed");
  await nameInput.fill("alice");
  await userForm.getByRole("button", { name: "Create user" }).click();
  await fieldShows(nameInput, 'user "alice" already exists');
  ok("the server's duplicate error is shown at the Name field");
  await page.getByRole("button", { name: "Edit alice" }).click();
  const editUser = page.getByRole("form", { name: "Edit user alice" });
  const editEmail = editUser.getByLabel("Email", { exact: true });
  check((await editEmail.inputValue()) === "alice@example.com", "the edit form starts from the user's values");
  await accessible("users, editing a user");
  await editEmail.fill("not-an-email");
  await editUser.getByRole("button", { name: "Save" }).click();
  await fieldShows(editEmail, "email must look like name@example.com");
  ok("an invalid email is refused before sending, at the edit form's field");
  await editEmail.fill("alice@corp.example");
  await editUser.getByRole("button", { name: "Save" }).click();
  await page.getByRole("row", { name: /alice alice@corp\.example eng/ }).waitFor();
  await editUser.waitFor({ state: "detached" });
  ok("a user is edited (UpdateUser) and listed with the new email");
  await shot("users");

  // API keys: the secret is shown once, with a copy button, then gone.
  await page.getByRole("link", { name: "API keys" }).click();
  const keyForm = page.getByRole("form", { name: "Create an API key" });
  await keyForm.getByRole("button", { name: "Create key" }).click();
  await keyForm.getByText("choose the user the key authenticates").waitFor();
  ok("a key without an owner is refused before sending");
  await keyForm.getByLabel("Key name").fill("web-e2e");
  await keyForm.getByLabel("Owner (user)").selectOption("alice");
  await keyForm.getByRole("button", { name: "Create key" }).click();
  const secretBox = page.getByTestId("secret");
  await secretBox.waitFor();
  const secret = (await secretBox.textContent()).trim();
  check(secret.length >= 20, "the new key's secret is shown");
  await page.getByRole("button", { name: "Copy" }).click();
  await page.getByText("Copied to the clipboard.").waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === secret, "Copy puts the secret on the clipboard");
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("row", { name: /web-e2e/ }).waitFor();
  check(!(await page.content()).includes(secret), "the secret is gone from the page after Done");
  const prefix = (await page.getByRole("row", { name: /web-e2e/ }).locator("code").textContent()).replace("…", "");
  check(prefix.length > 0 && secret.startsWith(prefix), "the key is listed by its prefix");
  await page.reload();
  await page.getByRole("row", { name: /web-e2e/ }).waitFor();
  check(!(await page.content()).includes(secret), "the secret is not shown again after a reload");
  await shot("keys");

  // Gateway tokens: a bad name is refused before sending; the secret is shown once; revoke.
  await page.getByRole("link", { name: "Gateway tokens" }).click();
  const gwtForm = page.getByRole("form", { name: "Create a gateway token" });
  const gwtName = gwtForm.getByLabel("Token name");
  await gwtName.fill("Bad Name");
  await gwtForm.getByRole("button", { name: "Create token" }).click();
  await fieldShows(gwtName, "name must be 1 to 63 lowercase");
  ok("a bad gateway token name is refused before sending, at its field");
  await gwtName.fill("web-replicas");
  await gwtForm.getByRole("button", { name: "Create token" }).click();
  const gwtSecretBox = page.getByTestId("secret");
  await gwtSecretBox.waitFor();
  const gwtSecret = (await gwtSecretBox.textContent()).trim();
  check(gwtSecret.length >= 20, "the new gateway token's secret is shown");
  await page.getByRole("button", { name: "Copy" }).click();
  await page.getByText("Copied to the clipboard.").waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === gwtSecret, "Copy puts the gateway token's secret on the clipboard");
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("row", { name: /web-replicas .* active/ }).waitFor();
  check(!(await page.content()).includes(gwtSecret), "the gateway token's secret is gone after Done");
  await gwtName.fill("web-replicas");
  await gwtForm.getByRole("button", { name: "Create token" }).click();
  await fieldShows(gwtName, 'gateway token "web-replicas" already exists');
  ok("the server's duplicate error is shown at the token's name");
  await gwtName.fill("web-old");
  await gwtForm.getByRole("button", { name: "Create token" }).click();
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: "Revoke web-old" }).click();
  await page.getByRole("button", { name: "Confirm revoke web-old" }).click();
  await page.getByRole("row", { name: /web-old .* revoked/ }).waitFor();
  ok("a gateway token is revoked");
  await page.reload();
  await page.getByRole("row", { name: /web-replicas/ }).waitFor();
  check(!(await page.content()).includes(gwtSecret), "the gateway token's secret is not shown after a reload");
  await shot("gateway-tokens");

  // Audit log: the gateway token's creation is there, with its after on demand; the kind filter keeps only its kind.
  await page.getByRole("link", { name: "Audit log" }).click();
  const auditTable = page.getByRole("table", { name: "Audit events" });
  await auditTable.getByRole("row", { name: /admin-token create gateway_token/ }).first().waitFor();
  ok("the gateway token's creation is in the audit log");
  await page.getByLabel("Resource kind").selectOption("gateway_token");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("button", { name: /^Diff of revoke gateway_token/ }).waitFor();
  const kindsShown = await auditTable.locator("tbody tr td:nth-child(4)").allTextContents();
  check(kindsShown.length >= 3 && kindsShown.every((k) => k === "gateway_token"), `the kind filter keeps only gateway_token events (${kindsShown.join(",")})`);
  await page.getByRole("button", { name: /^Diff of revoke gateway_token/ }).click();
  const diff = page.getByRole("table", { name: "Before and after" });
  await diff.getByRole("row", { name: /revoke_?[tT]ime \(changed\)/ }).waitFor();
  ok("an event's before/after is shown on demand, its changed field marked");
  await shot("audit");

  // Providers & models: the forms check before sending; the API key is write-only (gone from
  // the page once sent; the list shows only that one is stored); a model is listed under its account.
  await page.getByRole("link", { name: "Providers & models" }).click();
  const accForm = page.getByRole("form", { name: "Create a provider account" });
  const accName = accForm.getByLabel("Account name");
  const accURL = accForm.getByLabel("Base URL (optional)");
  await accName.fill("web-openai");
  await accURL.fill("ftp://example.com");
  await accForm.getByRole("button", { name: "Create account" }).click();
  await fieldShows(accForm.getByLabel("Provider", { exact: true }), "choose the provider");
  await fieldShows(accURL, "provider_account.base_url must be an http or https URL");
  ok("an account without a provider or with a bad base URL is refused before sending");
  await accForm.getByLabel("Provider", { exact: true }).selectOption("openai");
  await accURL.fill(fakeOpenAI);
  const upstreamKey = "sk-web-e2e-not-shown-again";
  await accForm.getByLabel("API key (write-only)").fill(upstreamKey);
  await accForm.getByRole("button", { name: "Create account" }).click();
  const accRow = page.getByRole("table", { name: "Provider accounts" }).getByRole("row", { name: new RegExp(`web-openai openai ${reEscape(fakeOpenAI)} stored`) });
  await accRow.waitFor();
  ok("a provider account is created and listed with its key stored");
  check((await accForm.getByLabel("API key (write-only)").inputValue()) === "" && !(await page.content()).includes(upstreamKey), "the API key is gone from the page once sent");
  await accName.fill("web-openai");
  await accForm.getByLabel("Provider", { exact: true }).selectOption("openai");
  await accForm.getByRole("button", { name: "Create account" }).click();
  await fieldShows(accName, 'provider account "web-openai" already exists');
  ok("the server's duplicate error is shown at the account's name");
  await accName.fill("web-spare");
  await accForm.getByLabel("Provider", { exact: true }).selectOption("openai");
  await accURL.fill("");
  await accForm.getByRole("button", { name: "Create account" }).click();
  const accTable = page.getByRole("table", { name: "Provider accounts" });
  await accTable.getByRole("row", { name: /web-spare openai default none/ }).waitFor();
  check((await page.getByTestId("test-account-web-spare").textContent()) === "add a model to test it" && (await page.getByRole("button", { name: "Test connection to account web-spare" }).isDisabled()),
    "an account without a model cannot be tested, and says so");
  await page.getByRole("button", { name: "Edit account web-spare" }).click();
  const accEdit = page.getByRole("form", { name: "Edit account web-spare" });
  const accEditURL = accEdit.getByLabel("Base URL");
  await accessible("providers, editing an account");
  await accEditURL.fill("gopher://example.com");
  await accEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(accEditURL, "provider_account.base_url must be an http or https URL");
  ok("an account's edited base URL is checked before sending");
  await accEditURL.fill("http://127.0.0.1:9/v1");
  await accEdit.getByRole("button", { name: "Save" }).click();
  await accTable.getByRole("row", { name: /web-spare openai http:\/\/127\.0\.0\.1:9\/v1 none/ }).waitFor();
  ok("a provider account is edited (UpdateProviderAccount)");
  await page.getByRole("button", { name: "Delete account web-spare" }).click();
  await page.getByRole("button", { name: "Confirm delete account web-spare" }).click();
  await accTable.getByRole("row", { name: /web-spare/ }).waitFor({ state: "detached" });
  ok("a provider account is deleted after a confirmation");
  await accName.fill("");
  const modelForm = page.getByRole("form", { name: "Create a model" });
  await modelForm.getByLabel("Provider account").selectOption("web-openai");
  await modelForm.getByLabel("Model name").fill("bad name");
  await modelForm.getByRole("button", { name: "Create model" }).click();
  await fieldShows(modelForm.getByLabel("Model name"), "model.name must be at most 128 characters");
  ok("a model name with a space is refused before sending");
  await modelForm.getByLabel("Model name").fill("gpt-web");
  await modelForm.getByLabel("Upstream model (optional)").fill("gpt-4o-mini");
  await modelForm.getByRole("button", { name: "Create model" }).click();
  await page.getByRole("table", { name: "Provider accounts" }).getByRole("row", { name: /web-openai .* stored gpt-web/ }).waitFor();
  ok("a model is created and listed under its account");
  await modelForm.getByLabel("Provider account").selectOption("web-openai");
  await modelForm.getByLabel("Model name").fill("gpt-spare");
  await modelForm.getByRole("button", { name: "Create model" }).click();
  const modelTable = page.getByRole("table", { name: "Models" });
  await modelTable.getByRole("row", { name: /web-openai\/gpt-spare/ }).waitFor();
  await page.getByRole("button", { name: "Delete model web-openai/gpt-spare" }).click();
  await page.getByRole("button", { name: "Confirm delete model web-openai/gpt-spare" }).click();
  await modelTable.getByRole("row", { name: /web-openai\/gpt-spare/ }).waitFor({ state: "detached" });
  ok("a model is deleted after a confirmation");
  await page.reload();
  await accRow.waitFor();
  check(!(await page.content()).includes(upstreamKey), "the API key is not shown after a reload");

  // Test connection: one tiny request through the gateway's adapter for the model, to the
  // fake upstream.
  await page.getByRole("button", { name: "Test connection to web-openai/gpt-web" }).click();
  const testResult = page.getByTestId("test-web-openai/gpt-web");
  await testResult.filter({ hasText: /^(ok|failed)/ }).waitFor();
  const tested = (await testResult.textContent()) ?? "";
  check(/^ok · 200 · \d+ ms$/.test(tested), `test connection reaches the upstream (${tested})`);
  // An account is tested through its first model.
  await page.getByRole("button", { name: "Test connection to account web-openai" }).click();
  const accTested = page.getByTestId("test-account-web-openai");
  await accTested.filter({ hasText: /^(ok|failed)/ }).waitFor();
  const accTestedText = (await accTested.textContent()) ?? "";
  check(/^ok · 200 · \d+ ms$/.test(accTestedText), `test connection of the account reaches the upstream through its model (${accTestedText})`);

  // Price override: checked before sending, then listed.
  await page.getByRole("button", { name: "Edit model web-openai/gpt-web" }).click();
  const editModel = page.getByRole("form", { name: "Edit model web-openai/gpt-web" });
  const priceIn = editModel.getByLabel("Input", { exact: true });
  await accessible("providers, editing a model");
  await priceIn.fill("-1");
  await editModel.getByLabel("Output", { exact: true }).fill("10");
  await editModel.getByRole("button", { name: "Save" }).click();
  await fieldShows(priceIn, "model.pricing.input_per_mtok must be between 0 and 100000");
  ok("a negative price is refused before sending, at its field");
  await priceIn.fill("2.5");
  await editModel.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Models" }).getByRole("row", { name: /web-openai\/gpt-web gpt-4o-mini \$2\.5 \/ \$10/ }).waitFor();
  ok("the model's price override is saved (UpdateModel) and listed");
  await shot("providers");

  // Identity providers: a plain-http issuer is refused before sending; create; delete.
  await page.getByRole("link", { name: "Identity providers" }).click();
  const idpForm = page.getByRole("form", { name: "Create an identity provider" });
  await idpForm.getByLabel("Provider name").fill("web-oidc");
  const idpIssuer = idpForm.getByLabel("Issuer URL");
  await idpIssuer.fill("http://login.example.com");
  await idpForm.getByLabel("Audiences (comma-separated)").fill("llmgw");
  await idpForm.getByRole("button", { name: "Create identity provider" }).click();
  await fieldShows(idpIssuer, "identity_provider.issuer must be an https URL");
  ok("a plain-http issuer is refused before sending, at its field");
  await idpIssuer.fill("https://login.example.com");
  await idpForm.getByRole("button", { name: "Create identity provider" }).click();
  const idpRow = page.getByRole("table", { name: "Identity providers" }).getByRole("row", { name: /web-oidc https:\/\/login\.example\.com llmgw no/ });
  await idpRow.waitFor();
  ok("an identity provider is created and listed");
  await shot("identity-providers");
  await page.getByRole("button", { name: "Delete web-oidc" }).click();
  await page.getByRole("button", { name: "Confirm delete web-oidc" }).click();
  await idpRow.waitFor({ state: "detached" });
  ok("an identity provider is deleted");

  // Virtual accounts: create one with a key (its secret shown once), edit it; delete another.
  await page.getByRole("link", { name: "Virtual accounts" }).click();
  const vaForm = page.getByRole("form", { name: "Create a virtual account" });
  const vaName = vaForm.getByLabel("Account name");
  await vaName.fill("Web App");
  await vaForm.getByRole("button", { name: "Create virtual account" }).click();
  await fieldShows(vaName, "virtual_account.name must be 1 to 63 lowercase");
  ok("a bad virtual account name is refused before sending, at its field");
  await vaName.fill("web-app");
  await vaForm.getByLabel("Owning team (optional)").selectOption("eng");
  await vaForm.getByRole("button", { name: "Create virtual account" }).click();
  const vaTable = page.getByRole("table", { name: "Virtual accounts" });
  await vaTable.getByRole("row", { name: /web-app\s+eng active/ }).waitFor();
  ok("a virtual account is created and listed");
  await vaName.fill("web-app");
  await vaForm.getByRole("button", { name: "Create virtual account" }).click();
  await fieldShows(vaName, 'virtual account "web-app" already exists');
  ok("the server's duplicate error is shown at the virtual account's name");
  await vaName.fill("web-old-app");
  await vaForm.getByRole("button", { name: "Create virtual account" }).click();
  await vaTable.getByRole("row", { name: /web-old-app/ }).waitFor();
  await page.getByRole("button", { name: "New key for web-app" }).click();
  const vaSecret = ((await page.getByTestId("secret").textContent()) ?? "").trim();
  check(vaSecret.length >= 20, "a key for the virtual account is issued, its secret shown");
  await page.getByRole("button", { name: "Done" }).click();
  await vaTable.getByRole("row", { name: /web-app/ }).first().locator("code").waitFor();
  check(!(await page.content()).includes(vaSecret), "the virtual account's secret is gone after Done; the key is listed by its prefix");
  await page.getByRole("button", { name: "Edit web-app" }).click();
  const vaEdit = page.getByRole("form", { name: "Edit virtual account web-app" });
  await vaEdit.getByLabel("Description").fill("The web shop");
  await vaEdit.getByRole("button", { name: "Save" }).click();
  await vaTable.getByRole("row", { name: /web-app The web shop eng active/ }).waitFor();
  ok("a virtual account is edited");
  await page.getByRole("button", { name: "Delete web-old-app" }).click();
  await page.getByRole("button", { name: "Confirm delete web-old-app" }).click();
  await vaTable.getByRole("row", { name: /web-old-app/ }).waitFor({ state: "detached" });
  ok("a virtual account is deleted after a confirmation");
  await shot("virtual-accounts");

  // Virtual models & routing: a virtual model routed to the fake upstream's model, its
  // targets edited as rows; the live state lists the target.
  await page.getByRole("link", { name: "Virtual models & routing" }).click();
  const vmForm = page.getByRole("form", { name: "Create a virtual model" });
  await vmForm.getByLabel("Group").fill("web");
  await vmForm.getByLabel("Virtual model name").fill("chat");
  await vmForm.getByLabel("Target 1 model").selectOption("web-openai/gpt-web");
  await vmForm.getByLabel("Target 1 weight (%)").fill("50");
  await vmForm.getByRole("button", { name: "Create virtual model" }).click();
  await vmForm.getByText("weights sum to 50; they must sum to 100").waitFor();
  ok("weights that do not sum to 100 are refused before sending");
  await vmForm.getByRole("button", { name: "Add target" }).click();
  await vmForm.getByLabel("Target 2 model").selectOption("mock/echo");
  await vmForm.getByLabel("Target 2 weight (%)").fill("50");
  await vmForm.getByRole("button", { name: "Remove target 2" }).click();
  await vmForm.getByLabel("Target 1 weight (%)").fill("100");
  await vmForm.getByRole("button", { name: "Create virtual model" }).click();
  const vmRow = page.getByRole("table", { name: "Virtual models" }).getByRole("row", { name: /web\/chat weight-based-routing web-openai\/gpt-web 100%/ });
  await vmRow.waitFor();
  ok("a virtual model is created with its target rows and listed");
  await page.getByRole("table", { name: "Routing state" }).getByRole("row", { name: /web-openai\/gpt-web closed/ }).waitFor();
  ok("the live routing state lists the target");

  // Access for the virtual account to the virtual model, then a chat in the Playground with
  // the virtual account's key, answered by the fake upstream behind the virtual model.
  await page.getByRole("link", { name: "Teams & access" }).click();
  const vaRule = page.getByRole("form", { name: "Create an access rule" });
  await vaRule.getByLabel("Rule name").fill("web-app-chat");
  await vaRule.getByLabel("Models (comma-separated)").fill("web/chat");
  await vaRule.getByLabel("For virtual accounts (comma-separated)").fill("web-app");
  await vaRule.getByRole("button", { name: "Create rule" }).click();
  await page.getByRole("table", { name: "Access rules" }).getByRole("row", { name: /web-app-chat web\/chat\s+web-app/ }).waitFor();
  ok("an access rule lets the virtual account call the virtual model");
  await page.getByRole("link", { name: "Playground" }).click();
  const vchat = page.getByRole("form", { name: "Chat" });
  await vchat.getByLabel("API key (optional; default: the key you signed in with)").fill(vaSecret);
  await vchat.getByLabel("Model").locator("option", { hasText: "web/chat" }).waitFor({ state: "attached" });
  await vchat.getByLabel("Model").selectOption("web/chat");
  await vchat.getByLabel("Message").fill("hello virtual");
  await vchat.getByRole("button", { name: "Send" }).click();
  await vchat.locator(".chat li.assistant .content", { hasText: "echo: hello virtual" }).waitFor();
  ok("the virtual model answers the virtual account's key in the Playground, through its target");

  // A routing rule: the server's refusal of an unknown model at its field; create, edit, delete.
  await page.getByRole("link", { name: "Virtual models & routing" }).click();
  const rrForm = page.getByRole("form", { name: "Create a routing rule" });
  const rrModels = rrForm.getByLabel("For models (comma-separated)");
  const rrSubjects = rrForm.getByLabel("For subjects (comma-separated, optional)");
  await rrForm.getByLabel("Rule ID").fill("web-pin");
  await rrModels.fill("web-openai/nope");
  await rrSubjects.fill("group:web");
  await rrForm.getByLabel("Target 1 model").selectOption("web-openai/gpt-web");
  await rrForm.getByRole("button", { name: "Create routing rule" }).click();
  await fieldShows(rrSubjects, 'subject "group:web" must be');
  ok("a rule's unknown subject kind is refused before sending, at its field");
  await rrSubjects.fill("team:eng");
  await rrForm.getByLabel("With metadata (optional)").fill("env=web");
  await rrForm.getByRole("button", { name: "Create routing rule" }).click();
  await fieldShows(rrModels, "is not an existing model or virtual model");
  ok("the server's refusal of an unknown model is shown at the rule's models");
  await rrModels.fill("web-openai/gpt-web");
  await rrForm.getByRole("button", { name: "Create routing rule" }).click();
  const rrTable = page.getByRole("table", { name: "Routing rules" });
  await rrTable.getByRole("row", { name: /web-pin 0 web-openai\/gpt-web; for team:eng; metadata env=web priority-based-routing web-openai\/gpt-web \(priority 0\)/ }).waitFor();
  ok("a routing rule is created with its subjects and metadata, and listed");
  await page.getByRole("button", { name: "Edit rule web-pin" }).click();
  const rrEdit = page.getByRole("form", { name: "Edit routing rule web-pin" });
  await accessible("routing, editing a rule");
  await rrEdit.getByLabel("Position").fill("5");
  await rrEdit.getByRole("button", { name: "Show target 1 options" }).click();
  const rrFallback = rrEdit.getByLabel("Target 1 fall back on statuses");
  await rrFallback.fill("500, 700");
  await rrEdit.getByLabel("Target 1 SLA time to first token (ms)").fill("2000");
  await rrEdit.getByLabel("Target 1 may be tried after another failed").uncheck();
  await rrEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(rrFallback, "700 is not an HTTP status code");
  ok("a target's fallback status that is not an HTTP status is refused before sending, at its field");
  await rrFallback.fill("500, 503");
  await rrEdit.getByRole("button", { name: "Save" }).click();
  await rrTable.getByRole("row", { name: /web-pin 5 .*\(priority 0\) \[fall back on 500, 503; no fallback to it; SLA\]/ }).waitFor();
  ok("a routing rule is edited: its position, and its target's fallback statuses, fallback candidacy and SLA cutoff");
  const sampled = page.getByRole("table", { name: "Routing state" }).getByRole("row", { name: /web-openai\/gpt-web closed 0 — [1-9]/ });
  await sampled.waitFor({ timeout: 20_000 });
  ok("the live routing state counts the virtual model's answer from its target");
  // The virtual model's target options and sticky routing, each refused before sending when
  // out of the API's range, then saved and listed.
  await page.getByRole("button", { name: "Edit web/chat" }).click();
  const vmEdit = page.getByRole("form", { name: "Edit virtual model web/chat" });
  await vmEdit.getByRole("button", { name: "Show target 1 options" }).click();
  const vmAttempts = vmEdit.getByLabel("Target 1 retry attempts");
  const vmHeaders = vmEdit.getByLabel("Target 1 headers to set");
  await vmAttempts.fill("11");
  await vmHeaders.fill("Authorization: Bearer x");
  await vmEdit.getByLabel("Target 1 override parameters (JSON)").fill('{"temperature": 0.2}');
  await vmEdit.getByLabel("Keep a session on one target (weight-based routing only)").check();
  const vmTTL = vmEdit.getByLabel("Session TTL (seconds)");
  await vmTTL.fill("0");
  await vmEdit.getByLabel("Session identifier 1 key").fill("x-session-id");
  await vmEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(vmAttempts, "expected an integer from 1 to 10");
  await fieldShows(vmHeaders, "Authorization is set by the gateway");
  await fieldShows(vmTTL, "expected an integer from 1 to 604800");
  ok("retries, a credential header and a sticky TTL out of the API's range are refused before sending, each at its field");
  await vmAttempts.fill("3");
  await vmHeaders.fill("X-Team: web");
  await vmTTL.fill("600");
  await accessible("routing, editing a virtual model");
  await vmEdit.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Virtual models" })
    .getByRole("row", { name: /web\/chat weight-based-routing, sticky 600 s by headers\.X-Session-Id web-openai\/gpt-web 100% \[3 tries; params \{"temperature":0\.2\}; headers\]/ })
    .waitFor();
  ok("a virtual model is edited: sticky routing by a header, and its target's retries, parameter and header overrides");
  await vmForm.getByLabel("Group").fill("web");
  await vmForm.getByLabel("Virtual model name").fill("spare");
  await vmForm.getByLabel("Target 1 model").selectOption("web-openai/gpt-web");
  await vmForm.getByRole("button", { name: "Create virtual model" }).click();
  const spareRow = page.getByRole("table", { name: "Virtual models" }).getByRole("row", { name: /web\/spare/ });
  await spareRow.waitFor();
  await page.getByRole("button", { name: "Delete web/spare" }).click();
  await page.getByRole("button", { name: "Confirm delete web/spare" }).click();
  await spareRow.waitFor({ state: "detached" });
  ok("a virtual model is deleted after a confirmation");
  await shot("routing");
  await page.getByRole("button", { name: "Delete rule web-pin" }).click();
  await page.getByRole("button", { name: "Confirm delete rule web-pin" }).click();
  await rrTable.getByRole("row", { name: /web-pin/ }).waitFor({ state: "detached" });
  ok("a routing rule is deleted after a confirmation");

  // Rate limits and budgets: create a 2-a-minute rate limit per user and a daily budget; the
  // forms refuse a bad limit before sending and show the server's refusals at their fields.
  await page.getByRole("link", { name: "Rate limits & budgets" }).click();
  const rlForm = page.getByRole("form", { name: "Create a rate limit" });
  const rlName = rlForm.getByLabel("Rate limit name");
  const rlLimit = rlForm.getByLabel("Limit 1", { exact: true });
  const rlPer = rlForm.getByLabel("Applies per (comma-separated)");
  await rlName.fill("web-rpm");
  await rlLimit.fill("0");
  await rlForm.getByRole("button", { name: "Create rate limit" }).click();
  await fieldShows(rlLimit, "rate_limit.limits[0].limit_to must be positive");
  ok("a rate limit of 0 is refused before sending, at the Limit field");
  await rlForm.getByLabel("Limit 1 unit").selectOption("requests_per_minute");
  await rlLimit.fill("2");
  await rlPer.fill("planet");
  await rlForm.getByRole("button", { name: "Create rate limit" }).click();
  await fieldShows(rlPer, "rate_limit.applies_per[0]");
  ok("the server's refusal of applies_per is shown at its field");
  await rlPer.fill("user");
  await rlForm.getByRole("button", { name: "Create rate limit" }).click();
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /web-rpm 2 requests_per_minute user enforce/ }).waitFor();
  ok("the rate limit is created and listed");
  await rlName.fill("web-rpm");
  await rlLimit.fill("5");
  await rlForm.getByRole("button", { name: "Create rate limit" }).click();
  await fieldShows(rlName, 'rate limit "web-rpm" already exists');
  ok("the server's duplicate error is shown at the rate limit's name");
  await rlName.fill("");
  await rlLimit.fill("");
  const bForm = page.getByRole("form", { name: "Create a budget" });
  await bForm.getByLabel("Budget name").fill("web-daily");
  await bForm.getByLabel("Budget unit").selectOption("cost_per_day");
  await bForm.getByLabel("Limit (US dollars)").fill("10");
  await bForm.getByRole("button", { name: "Create budget" }).click();
  await page.getByRole("table", { name: "Budgets" }).getByRole("row", { name: /web-daily 10 cost_per_day/ }).waitFor();
  ok("the budget is created and listed");
  await page.getByRole("button", { name: "Edit web-daily" }).click();
  const bEdit = page.getByRole("form", { name: "Edit budget web-daily" });
  const bEditLimit = bEdit.getByLabel("Limit (cost_per_day)");
  await bEditLimit.fill("0");
  await bEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(bEditLimit, "budget.limit_to must be positive");
  ok("a budget edited to 0 is refused before sending");
  await bEditLimit.fill("20");
  await bEdit.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Budgets" }).getByRole("row", { name: /web-daily 20 cost_per_day/ }).waitFor();
  ok("a budget is edited (UpdateBudget)");
  // A rule of several limits: a second limit row added on edit (a unit given twice refused
  // before sending), saved, listed; then the rule deleted.
  await rlName.fill("web-spare");
  await rlForm.getByLabel("Limit 1 unit").selectOption("requests_per_hour");
  await rlLimit.fill("100");
  await rlForm.getByRole("button", { name: "Create rate limit" }).click();
  const rlTable = page.getByRole("table", { name: "Rate limits" });
  await rlTable.getByRole("row", { name: /web-spare 100 requests_per_hour/ }).waitFor();
  await page.getByRole("button", { name: "Edit web-spare" }).click();
  const rlEdit = page.getByRole("form", { name: "Edit rate limit web-spare" });
  await rlEdit.getByRole("button", { name: "Add limit" }).click();
  const rlUnit2 = rlEdit.getByLabel("Limit 2 unit");
  await accessible("limits, editing a rate limit");
  await rlUnit2.selectOption("requests_per_hour");
  await rlEdit.getByLabel("Limit 2", { exact: true }).fill("100000");
  await rlEdit.getByRole("button", { name: "Save" }).click();
  await fieldShows(rlUnit2, "rate_limit.limits[1].unit requests_per_hour is given twice");
  ok("a unit given twice is refused before sending, at its row");
  await rlUnit2.selectOption("tokens_per_day");
  await rlEdit.getByRole("button", { name: "Save" }).click();
  await rlTable.getByRole("row", { name: /web-spare 100 requests_per_hour, 100000 tokens_per_day — enforce requests_per_hour: no requests yet\s*tokens_per_day: no requests yet/ }).waitFor();
  ok("a second limit is added to a rate limit (UpdateRateLimit), each limit listed with its live status");
  await page.getByRole("button", { name: "Delete web-spare" }).click();
  await page.getByRole("button", { name: "Confirm delete web-spare" }).click();
  await rlTable.getByRole("row", { name: /web-spare/ }).waitFor({ state: "detached" });
  ok("a rate limit is deleted after a confirmation");

  // Playground: stream a chat through /v1/chat/completions with the new user's key.
  await page.getByRole("link", { name: "Playground" }).click();
  const chat = page.getByRole("form", { name: "Chat" });
  await chat.getByLabel("API key (optional; default: the key you signed in with)").fill(secret);
  await chat.getByLabel("Model").locator("option", { hasText: "mock/echo" }).waitFor({ state: "attached" });
  await chat.getByLabel("Model").selectOption("mock/echo");
  check(await chat.getByLabel("Stream").isChecked(), "streaming is on by default");
  await chat.getByLabel("Message").fill("hello from the browser");
  await chat.getByRole("button", { name: "Send" }).click();
  await chat.locator(".chat li.assistant .content", { hasText: "hello from the browser" }).waitFor();
  ok("the streamed answer of mock/echo is shown");
  const latency = await page.getByTestId("latency").textContent();
  const completion = await page.getByTestId("completion-tokens").textContent();
  check(/^\d+ ms$/.test(latency), `latency is shown (${latency})`);
  check(/^[1-9]\d*$/.test(completion), `completion tokens are shown (${completion})`);
  await page.getByTestId("target").getByText("mock/echo", { exact: true }).waitFor({ timeout: 30_000 });
  const cost = (await page.getByTestId("cost").textContent()) ?? "";
  check(/^\$\d|^not priced$/.test(cost), `the answer's usage event gives the model that answered and the cost (${cost})`);
  await page.getByText("View code").click();
  await page.getByLabel("Language").selectOption("python");
  const code = (await page.getByLabel("Python (openai) code").textContent()) ?? "";
  check(code.includes(`base_url="${url}/v1"`) && code.includes('"mock/echo"') && code.includes("hello from the browser") && code.includes("stream=True"),
    "View code gives the same request for the OpenAI Python SDK, pointing at this gateway");
  check(!code.includes(secret) && !code.includes(token), "the code holds no key");
  await page.getByRole("button", { name: "Copy code" }).click();
  await page.getByText("Copied.").waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === code, "Copy code puts the code on the clipboard");
  await shot("playground");

  // Rate limits and budgets with their live status.
  await page.getByRole("link", { name: "Rate limits & budgets" }).click();
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /web-rpm/ }).waitFor();
  await page.getByRole("table", { name: "Budgets" }).getByRole("row", { name: /web-daily/ }).waitFor();
  ok("the rate limit and the budget are listed");
  const status = page.getByRole("table", { name: "Live status" }).getByRole("row", { name: /web-rpm/ });
  await status.first().waitFor({ timeout: 20_000 });
  const statusCells = await status.first().locator("td").allTextContents();
  check(statusCells[2] === "user:alice" && statusCells[3] === "1" && statusCells[4] === "2", `the live status counts alice's one request (${statusCells.join(" | ")})`);
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /web-rpm .*requests_per_minute: user:alice 1 of 2 used, 1 left, resets \d{4}-/ }).waitFor();
  ok("the rate limit's row shows its limit's live status: used, left and reset time");
  await shot("limits");

  // The rate limit admits alice's second request of the minute and refuses the third.
  await page.getByRole("link", { name: "Playground" }).click();
  await chat.getByLabel("API key (optional; default: the key you signed in with)").fill(secret);
  await chat.getByLabel("Model").locator("option", { hasText: "mock/echo" }).waitFor({ state: "attached" });
  await chat.getByLabel("Model").selectOption("mock/echo");
  await chat.getByLabel("Message").fill("second");
  await chat.getByRole("button", { name: "Send" }).click();
  await chat.locator(".chat li.assistant .content", { hasText: "second" }).waitFor();
  ok("the second request of the minute is answered");
  await chat.getByLabel("Message").fill("third");
  await chat.getByRole("button", { name: "Send" }).click();
  const messageInput = chat.getByLabel("Message");
  await page.getByText(/rate limit web-rpm reached/).first().waitFor();
  const describedBy = ((await messageInput.getAttribute("aria-describedby")) ?? "").split(" ").filter(Boolean);
  const limitText = (await Promise.all(describedBy.map((id) => page.locator(`[id="${id}"]`).textContent()))).join(" ");
  check(/rate limit/i.test(limitText), `the third is refused by the rate limit, shown at the message (${limitText})`);
  await shot("playground-rate-limited");

  // Rotate the key: a new secret, shown once; then revoke it, and the Playground's next
  // request with it is refused.
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("button", { name: "Rotate web-e2e" }).click();
  await page.getByLabel("Old secret stops").selectOption("3600");
  await page.getByRole("button", { name: "Confirm rotate web-e2e" }).click();
  await page.getByRole("heading", { name: /rotated: its new secret/ }).waitFor();
  const rotated = ((await page.getByTestId("secret").textContent()) ?? "").trim();
  check(rotated.length >= 20 && rotated !== secret, "rotation shows a new secret");
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("row", { name: /web-e2e/ }).waitFor();
  check(!(await page.content()).includes(rotated), "the rotated secret is gone from the page after Done");
  await page.getByRole("button", { name: "Revoke web-e2e" }).click();
  await page.getByRole("button", { name: "Confirm revoke web-e2e" }).click();
  await page.getByRole("row", { name: /web-e2e.*revoked/ }).waitFor();
  ok("the key is revoked and listed as revoked");
  await page.getByRole("link", { name: "Playground" }).click();
  await chat.getByLabel("API key (optional; default: the key you signed in with)").fill(secret);
  await chat.getByLabel("Message").fill("still there?");
  await chat.getByRole("button", { name: "Send" }).click();
  await chat.getByRole("alert").first().waitFor();
  const refusal = await chat.getByRole("alert").first().textContent();
  check(/key/i.test(refusal), `the revoked key is refused in the Playground (${refusal})`);

  // Usage: the three chats of mock/echo are counted (the refused one as a failure), as the
  // Usage API says; the dashboard is refreshed until the last event has arrived.
  await page.getByRole("link", { name: "Usage" }).click();
  const row = page.getByRole("table", { name: "Usage by model" }).getByRole("row", { name: /mock\/echo/ });
  const deadline = Date.now() + 20_000;
  for (;;) {
    await page.getByRole("table", { name: "Usage by model" }).waitFor();
    if ((await row.count()) > 0 && (await row.locator("td").first().textContent()) === "3") break;
    if (Date.now() > deadline) throw new Error(`failed: the dashboard never counted the 3 mock/echo requests (${(await row.count()) ? await row.textContent() : "no row"})`);
    await page.waitForTimeout(500);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  const cells = await row.locator("td").allTextContents();
  check(cells[0] === "3" && cells[1] === "1", `the dashboard counts the requests (${cells[0]} requests of mock/echo, ${cells[1]} failed)`);
  console.log(`dashboard mock/echo requests=${cells[0]} completion_tokens=${cells[3]} failures=${cells[1]}`);

  // The rest of the dashboard, over the same range: the time series by model as a table,
  // cost by user and by team, latency and time to first token per model. The Go test compares
  // the printed numbers with the Usage API's answers for this range.
  const [rangeStart, rangeEnd] = await page.locator(".toolbar time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  check(!!rangeStart && !!rangeEnd, `the dashboard shows its range (${rangeStart} to ${rangeEnd})`);
  await page.getByRole("img", { name: /^Requests per hour by model: .*mock\/echo 3 in total/ }).waitFor();
  ok("the chart has a text alternative with the totals");
  await page.getByRole("button", { name: "Show table" }).click();
  const seriesTotal = async (name) => {
    const t = page.getByRole("table", { name });
    await t.waitFor();
    const head = await t.locator("thead th").allTextContents();
    const col = head.indexOf("mock/echo");
    if (col < 1) throw new Error(`failed: no mock/echo column in ${name} (${head.join(",")})`);
    return (await t.locator("tfoot tr > *").nth(col).textContent()).trim();
  };
  const seriesRequests = await seriesTotal("Requests per hour by model");
  await page.getByLabel("Metric").selectOption({ label: "Completion tokens" });
  const seriesTokens = await seriesTotal("Completion tokens per hour by model");
  await page.getByLabel("Metric").selectOption({ label: "Cost (USD)" });
  const seriesCost = await seriesTotal("Cost (USD) per hour by model");
  await page.getByLabel("Bucket").selectOption({ label: "Minute" });
  const minuteRequests = await seriesTotal("Cost (USD) per minute by model");
  check(seriesRequests === "3" && /^\$/.test(minuteRequests), `the time series is shown as a table, per hour and per minute (${seriesRequests} requests)`);
  console.log(`dashboard series start=${rangeStart} end=${rangeEnd} mock/echo requests=${seriesRequests} completion_tokens=${seriesTokens} cost=${seriesCost}`);
  await page.getByLabel("Bucket").selectOption({ label: "Hour" });
  await page.getByLabel("Metric").selectOption({ label: "Requests" });
  await page.getByRole("button", { name: "Show chart" }).click();
  // Cost by user, team and a metadata key: one group of each is printed for the Go test.
  const costGroup = async (dim, table, key) => {
    const r = page.getByRole("table", { name: table }).getByRole("row", { name: new RegExp(`^${key.replace(/[()]/g, "\\$&")} `) });
    await r.waitFor();
    const c = await r.locator("td").allTextContents();
    console.log(`dashboard cost dim=${dim} key=${key} requests=${c[0]} failures=${c[1]} completion_tokens=${c[3]} cost=${c[4]}`);
    return c;
  };
  await costGroup("user", "Cost by user", "alice");
  await page.getByLabel("Group by").selectOption({ label: "Team" });
  await costGroup("team", "Cost by team", "eng");
  await page.getByLabel("Group by").selectOption({ label: "Metadata key" });
  await page.getByText("Enter the metadata key to group by.").waitFor();
  await page.getByRole("textbox", { name: "Metadata key" }).fill("project");
  // Requests without metadata keep arriving (each Playground visit lists the models, and usage
  // events are written a little after their requests), so this group is compared with the
  // Usage API over the same range until the page, asked again, shows what the API says.
  const metaAPINow = async () => {
    const res = await (await fetch(`${url}/llmgw.usage.v1.UsageService/GetCostBreakdown`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ filter: { startTime: rangeStart, endTime: rangeEnd }, groupBy: "DIMENSION_METADATA", groupByMetadataKey: "project" }),
    })).json();
    return res.groups?.find((g) => !g.key)?.totals ?? {};
  };
  const sameAsAPI = (c, api) => c[0] === String(api.requests ?? 0) && c[1] === String(api.failures ?? 0) && c[3] === String(api.completionTokens ?? 0);
  let metaCells = await costGroup("metadata", "Cost by metadata key", "(none)");
  let metaAPI = await metaAPINow();
  for (let i = 0; i < 20 && !sameAsAPI(metaCells, metaAPI); i++) {
    await page.waitForTimeout(500);
    await page.getByLabel("Group by").selectOption({ label: "Team" });
    await page.getByRole("table", { name: "Cost by team" }).waitFor();
    await page.getByLabel("Group by").selectOption({ label: "Metadata key" });
    await page.getByRole("textbox", { name: "Metadata key" }).fill("project");
    // The cached answer shows at once and the page asks again behind it: wait for that answer.
    await page.waitForLoadState("networkidle");
    metaAPI = await metaAPINow();
    metaCells = await costGroup("metadata", "Cost by metadata key", "(none)");
  }
  check(sameAsAPI(metaCells, metaAPI),
    `cost by a metadata key equals the Usage API's (${metaCells.slice(0, 4).join(" ")}; API ${JSON.stringify(metaAPI)})`);
  ok("cost is shown by user, by team and by a metadata key");
  await page.getByLabel("Group by").selectOption({ label: "User" });
  const latRow = page.getByRole("table", { name: "Latency by model" }).getByRole("row", { name: /^mock\/echo / });
  await latRow.waitFor();
  const lat = await latRow.locator("td").allTextContents();
  console.log(`dashboard latency mock/echo requests=${lat[0]} p50=${lat[1]} p95=${lat[2]} p99=${lat[3]} streams=${lat[4]} ttft_p50=${lat[5]} ttft_p95=${lat[6]} ttft_p99=${lat[7]}`);
  // A custom range: the end before the start is refused at the field; a valid one applies.
  await page.getByLabel("Time range").selectOption("custom");
  await page.getByLabel("From (UTC)").fill("2026-01-02T00:00");
  await page.getByLabel("To (UTC)").fill("2026-01-01T00:00");
  await page.getByRole("button", { name: "Apply range" }).click();
  await fieldShows(page.getByLabel("From (UTC)"), "the end must be after the start");
  ok("a custom range ending before it starts is refused at its field");
  await page.getByLabel("From (UTC)").fill(rangeStart.slice(0, 16));
  await page.getByLabel("To (UTC)").fill(rangeEnd.slice(0, 16));
  await page.getByRole("button", { name: "Apply range" }).click();
  await row.waitFor();
  check((await row.locator("td").first().textContent()) === "3", "a custom range over the same times shows the same requests");
  await page.getByLabel("Time range").selectOption("24h");
  await row.waitFor();
  await shot("usage");

  // Request log: the three requests of mock/echo, the refused one alone with Failures only,
  // and its detail.
  await page.getByRole("link", { name: "Request log" }).click();
  const filters = page.getByRole("form", { name: "Filter requests" });
  await filters.getByLabel("Models (comma-separated)").fill("mock/echo");
  await filters.getByRole("button", { name: "Apply" }).click();
  const reqRows = page.getByRole("table", { name: "Requests" }).locator("tbody tr");
  await page.getByRole("table", { name: "Requests" }).getByText("3 requests, newest first").waitFor();
  check((await reqRows.count()) === 3, "the request log lists the 3 requests of mock/echo");
  await filters.getByLabel("Failures only").check();
  await filters.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("table", { name: "Requests" }).getByText("1 requests, newest first").waitFor();
  const failed = (await reqRows.first().textContent()) ?? "";
  check(failed.includes("429") && failed.includes("alice"), `Failures only lists alice's refused request (${failed})`);
  await reqRows.first().getByRole("button", { name: /Details of/ }).click();
  const detail = page.getByRole("region", { name: /^Request (?!log)/ });
  await detail.getByText("Counted by").waitFor();
  const detailText = (await detail.textContent()) ?? "";
  check(detailText.includes("Request body") && detailText.includes("Surface"), "the refused request's detail opens");
  await shot("requests");

  // How long each page takes to be usable against this local gateway: from the navigation
  // (a click on its link, and a full load of its URL) until its main content is visible and
  // enabled. Recorded, not asserted (a loaded CI machine is slower); web/README.md quotes them.
  const ready = {
    users: () => page.getByRole("row", { name: /alice/ }),
    access: () => page.getByRole("table", { name: "Access rules" }).getByRole("row", { name: /eng-mock/ }),
    keys: () => page.getByRole("row", { name: /web-e2e/ }),
    limits: () => page.getByRole("table", { name: "Live status" }),
    providers: () => page.getByRole("table", { name: "Provider accounts" }).getByRole("row", { name: /web-openai/ }),
    "virtual-models": () => page.getByRole("table", { name: "Virtual models" }).getByRole("row", { name: /web\/chat/ }),
    "virtual-accounts": () => page.getByRole("table", { name: "Virtual accounts" }).getByRole("row", { name: /web-app/ }),
    "identity-providers": () => page.getByRole("table", { name: "Identity providers" }),
    "gateway-tokens": () => page.getByRole("row", { name: /web-replicas/ }),
    audit: () => page.getByRole("table", { name: "Audit events" }).getByRole("row").nth(1),
    config: () => page.getByLabel("Configuration YAML"),
    usage: () => page.getByRole("table", { name: "Latency by model" }).getByRole("row", { name: /mock\/echo/ }),
    requests: () => page.getByRole("table", { name: "Requests" }).getByRole("row").nth(1),
    playground: () => page.getByRole("form", { name: "Chat" }).getByLabel("Model").locator("option", { hasText: "mock/echo" }),
  };
  // In the navigation's order: a viewer's navigation is all of them.
  const labels = {
    users: "Users", access: "Teams & access", keys: "API keys", limits: "Rate limits & budgets", providers: "Providers & models",
    "virtual-models": "Virtual models & routing", "virtual-accounts": "Virtual accounts", "identity-providers": "Identity providers",
    "gateway-tokens": "Gateway tokens", audit: "Audit log", config: "Config (YAML)", usage: "Usage", requests: "Request log", playground: "Playground",
  };
  // usable waits, polling in the page every 10 ms (Playwright's own locator waits back off to
  // 500 ms, which would blur the figures), until the page shows an enabled control and its
  // main content: a table (by label) with a row holding a text, the Playground's model, or
  // the Config page's YAML.
  const content = {
    users: ["", "alice"], access: ["Access rules", "eng-mock"], keys: ["", "web-e2e"], limits: ["Live status", ""],
    providers: ["Provider accounts", "web-openai"], "virtual-models": ["Virtual models", "web/chat"], "virtual-accounts": ["Virtual accounts", "web-app"],
    "identity-providers": ["Identity providers", ""], "gateway-tokens": ["", "web-replicas"], audit: ["Audit events", "gateway_token"],
    config: ["textarea", "web-rpm"], usage: ["Latency by model", "mock/echo"], requests: ["Requests", "mock/echo"], playground: [null, "mock/echo"],
  };
  const usable = async (p) => {
    await page.waitForFunction(([label, text]) => {
      const main = document.querySelector("main");
      const shown = (e) => e.offsetParent !== null;
      if (!main?.querySelector("h1") || ![...main.querySelectorAll("button, input")].some((e) => !e.disabled && shown(e))) return false;
      if (label === null) return [...main.querySelectorAll("select option")].some((o) => o.textContent.includes(text));
      if (label === "textarea") return [...main.querySelectorAll("textarea")].some((t) => shown(t) && t.value.includes(text));
      return [...main.querySelectorAll(label ? `table[aria-label="${label}"]` : "table")].some((t) => shown(t) && (!text || [...t.querySelectorAll("tbody tr")].some((r) => r.textContent.includes(text))));
    }, content[p], { polling: 10 });
    await ready[p]().first().waitFor({ state: p === "playground" ? "attached" : "visible" }); // the same content, as the checks above find it
  };
  const timings = {};
  for (const p of Object.keys(ready)) {
    await page.goto(`${url}/ui/${p === "usage" ? "requests" : "usage"}`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    let t0 = performance.now();
    await page.getByRole("link", { name: labels[p], exact: true }).click();
    await usable(p);
    const navigate = Math.round(performance.now() - t0);
    t0 = performance.now();
    await page.goto(`${url}/ui/${p}`);
    await usable(p);
    timings[p] = { navigate_ms: navigate, load_ms: Math.round(performance.now() - t0) };
  }
  writeFileSync(path.join(shots, "timings.json"), JSON.stringify(timings, null, 2) + "\n");
  console.log(`timings ${JSON.stringify(timings)}`);
  ok(`every page's time to usable content is recorded (${path.join(shots, "timings.json")})`);

  // Config (YAML): the stored configuration as the config file's YAML, with no key in it; a
  // reference to the server's environment is refused at the field; web-rpm's limit raised
  // from 2 to 7, the diff reviewed, applied, and seen on the Limits page.
  await page.getByRole("link", { name: "Config (YAML)" }).click();
  const yamlBox = page.getByLabel("Configuration YAML");
  await page.waitForFunction(() => document.querySelector("textarea.yaml")?.value.includes("web-rpm"));
  const exported = await yamlBox.inputValue();
  check(!exported.includes(upstreamKey) && exported.includes("(redacted: stored, write-only)") && exported.includes("name: web-openai"),
    "the exported YAML has the stored resources and no key, only the placeholder that keeps it");
  await page.getByRole("button", { name: "Review changes" }).click();
  await page.getByTestId("plan-counts").getByText(/^0 to create, 0 to update, \d+ unchanged$/).waitFor();
  ok("the export, reviewed as it is, changes nothing");
  await yamlBox.fill(exported.replace("'(redacted: stored, write-only)'", "env://HOME"));
  await page.getByRole("button", { name: "Review changes" }).click();
  await fieldShows(yamlBox, "env:// and file:// references");
  ok("a reference to the server's environment is refused, at the YAML");
  const refusedLine = await yamlBox.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  check(refusedLine.trim() === "api_key: env://HOME", `the refusal names its line, which is selected in the YAML (${refusedLine.trim()})`);
  const raised = exported.replace(/(- name: web-rpm\n(?:[^\n]*\n)*?\s+limit_to: )2\n/, "$17\n");
  // Two virtual models in front of mock/echo, for the Playground's comparison below.
  const virtualDoc = (name) => `    - name: ${name}\n      type: integration/model/virtual\n      routing_config:\n        type: weight-based-routing\n        load_balance_targets:\n          - target: mock/echo\n            weight: 100\n`;
  const edited = `${raised}---\n- name: web-virtual\n  type: provider-account/virtual-model\n  integrations:\n${virtualDoc("left")}${virtualDoc("right")}`;
  check(raised !== exported, "web-rpm's limit is edited in the YAML");
  await yamlBox.fill(edited);
  await page.getByRole("button", { name: "Review changes" }).click();
  const planned = page.getByRole("table", { name: "Planned changes" }).getByRole("row", { name: /update rate-limit web-rpm/ });
  await planned.waitFor();
  const plannedText = (await planned.textContent()) ?? "";
  check(plannedText.includes("limits[0].limit_to") && /2\s*→\s*7/.test(plannedText), `the review shows the field, old and new (${plannedText})`);
  check((await page.getByTestId("plan-counts").textContent()).startsWith("2 to create, 1 to update"), "the review counts one update and the two virtual models to create");
  await page.getByRole("table", { name: "Planned changes" }).getByRole("row", { name: /create virtual-model web-virtual\/left/ }).waitFor();
  await shot("config");
  await page.getByRole("button", { name: "Apply 3 changes" }).click();
  await page.getByRole("table", { name: "Applied changes" }).getByRole("row", { name: /update rate-limit web-rpm/ }).waitFor();
  ok("the reviewed change is applied");
  await page.getByRole("link", { name: "Rate limits & budgets" }).click();
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /web-rpm 7 requests_per_minute user enforce/ }).waitFor();
  ok("the Limits page shows the applied limit");

  // A viewer, for the read-only Config page below: a user with the viewer role and a key.
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await userForm.getByLabel("Name", { exact: true }).fill("vera");
  await userForm.getByLabel("Admin API role").selectOption("viewer");
  await userForm.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("row", { name: /vera .*viewer/ }).waitFor();
  await page.getByRole("link", { name: "API keys" }).click();
  await keyForm.getByLabel("Key name").fill("vera-key");
  await keyForm.getByLabel("Owner (user)").selectOption("vera");
  await keyForm.getByRole("button", { name: "Create key" }).click();
  await page.getByTestId("secret").waitFor();
  const viewerKey = (await page.getByTestId("secret").textContent()).trim();
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("row", { name: /vera-key/ }).waitFor();

  // Playground, Compare: the two virtual models side by side, asked at once with the signed-in
  // token; each answer has its own numbers and, from its usage event, the model that answered
  // (mock/echo, behind the virtual model) and the cost. Tools that are not JSON are refused
  // before sending.
  await page.getByRole("link", { name: "Playground" }).click();
  await chat.getByLabel("API key (optional; default: the key you signed in with)").fill("");
  await chat.getByLabel("Model", { exact: true }).locator("option", { hasText: "web-virtual/left" }).waitFor({ state: "attached" });
  await chat.getByLabel("Compare").check();
  await chat.getByLabel("Model", { exact: true }).selectOption("web-virtual/left");
  await chat.getByLabel("Second model").selectOption("web-virtual/right");
  await chat.getByText("Tools and response format").click();
  const toolsBox = chat.getByLabel("Tools (JSON)");
  await toolsBox.fill("[{");
  await chat.getByLabel("Message").fill("compare me");
  await chat.getByRole("button", { name: "Send" }).click();
  await fieldShows(toolsBox, "tools is not valid JSON");
  ok("tools that are not JSON are refused before sending, at their field");
  await toolsBox.fill("");
  await chat.getByRole("button", { name: "Send" }).click();
  for (const side of ["left", "right"]) {
    await chat.getByRole("list", { name: `Conversation with web-virtual/${side}` }).locator("li.assistant .content", { hasText: "compare me" }).waitFor();
    const mine = page.locator(`dl[aria-label="Last response of web-virtual/${side}"]`);
    await mine.getByTestId("target").getByText("mock/echo", { exact: true }).waitFor({ timeout: 30_000 });
    const [lat, toks, c] = await Promise.all([mine.getByTestId("latency").textContent(), mine.getByTestId("completion-tokens").textContent(), mine.getByTestId("cost").textContent()]);
    check(/^\d+ ms$/.test(lat) && /^[1-9]\d*$/.test(toks) && /^\$\d|^not priced$/.test(c), `web-virtual/${side} answers with its own latency, tokens and cost, served by mock/echo (${lat}, ${toks}, ${c})`);
  }
  await shot("playground-compare");

  // Playground, tools: a model that calls a tool (the fake upstream's fake-tools). Its call is
  // shown; the next turn needs the call's result (refused before sending without it), which
  // goes back as a tool message after the assistant's tool_calls, and the model answers from it.
  await page.getByRole("link", { name: "Providers & models" }).click();
  await modelForm.getByLabel("Provider account").selectOption("web-openai");
  await modelForm.getByLabel("Model name").fill("gpt-tools");
  await modelForm.getByLabel("Upstream model (optional)").fill("fake-tools");
  // A price, since the budget web-daily refuses models without one.
  await modelForm.getByLabel("Input", { exact: true }).fill("1");
  await modelForm.getByLabel("Output", { exact: true }).fill("2");
  await modelForm.getByRole("button", { name: "Create model" }).click();
  await page.getByRole("table", { name: "Models" }).getByRole("row", { name: /web-openai\/gpt-tools/ }).waitFor();
  await page.getByRole("link", { name: "Playground" }).click();
  await chat.getByLabel("Model", { exact: true }).locator("option", { hasText: "web-openai/gpt-tools" }).waitFor({ state: "attached" });
  await chat.getByLabel("Model", { exact: true }).selectOption("web-openai/gpt-tools");
  await chat.getByText("Tools and response format").click();
  await chat.getByLabel("Tools (JSON)").fill(JSON.stringify([{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }]));
  await chat.getByLabel("Message").fill("weather in Oslo?");
  await chat.getByRole("button", { name: "Send" }).click();
  await chat.locator(".chat li.assistant .content", { hasText: 'get_weather({"city":"Oslo"})' }).waitFor();
  ok("the model's tool call is shown as name(arguments)");
  const toolResult = chat.getByLabel("Result of get_weather (call 1)");
  await chat.getByRole("button", { name: "Send" }).click();
  await fieldShows(toolResult, "write the result of get_weather");
  ok("a tool call without its result is refused before sending, at the result's field");
  await toolResult.fill("12 C and sunny");
  await chat.getByRole("button", { name: "Send" }).click();
  await chat.locator(".chat li.assistant .content", { hasText: "tool said: 12 C and sunny" }).waitFor();
  await chat.locator(".chat li.tool .content", { hasText: "get_weather: 12 C and sunny" }).waitFor();
  ok("the tool's result goes back as a tool message, and the model answers from it");
  await shot("playground-tools");

  // Dark scheme and a narrow screen render too.
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 390, height: 800 });
  await shot("usage-dark-narrow");
  for (const [link, heading] of [["Users", "Users"], ["Teams & access", "Teams & access"], ["API keys", "API keys"], ["Rate limits & budgets", "Rate limits & budgets"], ["Providers & models", "Providers & models"], ["Identity providers", "Identity providers"], ["Virtual accounts", "Virtual accounts"], ["Virtual models & routing", "Virtual models & routing"], ["Gateway tokens", "Gateway tokens"], ["Audit log", "Audit log"], ["Config (YAML)", "Config (YAML)"], ["Request log", "Request log"], ["Playground", "Playground"]]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await page.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
    await accessible(`${heading}, dark and narrow`);
  }
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === "rgb(13, 17, 23)", `the dark scheme applies (${bg})`);

  // A user's key without an Admin API role: sign out, sign in with it, and see only the
  // Usage, Request log and Playground pages; an admin page's URL leads back to them.
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to llmgw" }).waitFor();
  check((await page.evaluate(() => sessionStorage.getItem("llmgw.token"))) === null, "Sign out forgets the token");
  await page.getByLabel("Admin token or API key").fill(userKey);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  // Signing in returns to the page the admin signed out on, which this user may use too.
  await page.getByRole("heading", { name: "Playground", level: 1 }).waitFor();
  const nav = (await page.getByRole("navigation", { name: "Main" }).innerText()).split("\n").map((l) => l.trim()).filter(Boolean);
  check(nav.join(",") === "Usage,Request log,Playground", `a user without an Admin API role sees only their pages (${nav.join(", ")})`);
  await page.goto(url + "/ui/users");
  await page.getByRole("heading", { name: "Usage", level: 1 }).waitFor();
  check(new URL(page.url()).pathname === "/ui/usage", "an admin page's URL leads such a user to Usage");
  await shot("user-view");

  // A viewer sees every page and may change nothing: no create, change or delete controls.
  const signInAs = async (key) => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to llmgw" }).waitFor();
    await page.getByLabel("Admin token or API key").fill(key);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
  };
  const navText = async () => (await page.getByRole("navigation", { name: "Main" }).innerText()).split("\n").map((l) => l.trim()).filter(Boolean).join(",");
  await signInAs(viewerKey);
  check((await navText()) === Object.values(labels).join(","), `a viewer sees every page (${await navText()})`);
  for (const p of ["users", "access", "keys", "limits", "providers", "virtual-models", "virtual-accounts", "identity-providers", "gateway-tokens", "audit", "config"]) {
    await page.getByRole("link", { name: labels[p], exact: true }).click();
    await page.getByRole("heading", { name: labels[p], level: 1 }).waitFor();
    await ready[p]().first().waitFor();
    const writes = await page.locator("main").getByRole("button", { name: /^(Create|Edit|Save|Delete|Revoke|Rotate|Confirm|Test connection|New key|Add target|Remove target|Add limit|Remove limit|Show target|Add session|Remove session|Apply \d)/ }).count();
    const forms = await page.locator('main form[aria-label^="Create"], main form[aria-label^="Edit"]').count();
    check(writes === 0 && forms === 0 && !(await page.getByRole("alert").count()), `a viewer's ${labels[p]} page loads with no create, edit or delete controls`);
  }
  // The Config page is read-only for a viewer: the YAML cannot be edited, and a review has
  // no Apply.
  await page.getByRole("link", { name: "Config (YAML)" }).click();
  await page.getByText("only an admin may apply them").waitFor();
  check(!(await page.getByLabel("Configuration YAML").isEditable()), "a viewer's YAML is read-only");
  await page.getByRole("button", { name: "Review changes" }).click();
  await page.getByTestId("plan-counts").getByText(/^0 to create, 0 to update, \d+ unchanged$/).waitFor();
  check((await page.getByRole("button", { name: /^Apply/ }).count()) === 0, "a viewer may review, and has no Apply");
  await shot("config-viewer");
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await page.getByRole("row", { name: /alice/ }).waitFor();
  await shot("viewer-view");

  // A team admin of "sre" sees the API keys and limits pages (and their own), their team
  // preselected, and may create a rule for it.
  await signInAs(teamAdminKey);
  check((await navText()) === "API keys,Rate limits & budgets,Usage,Request log,Playground", `a team admin sees the pages of their role (${await navText()})`);
  await page.getByRole("link", { name: "Rate limits & budgets" }).click();
  const taForm = page.getByRole("form", { name: "Create a rate limit" });
  check((await taForm.getByLabel("Rate limit for (comma-separated)").inputValue()) === "team:sre", "the team admin's team is preselected");
  check(
    (await page.getByRole("table", { name: "Live status" }).count()) === 0 &&
      (await page.getByRole("table", { name: "Rate limits" }).getByRole("columnheader", { name: "Live status" }).count()) === 0 &&
      !(await page.getByRole("alert").count()),
    "the team admin is not shown the live status the server would refuse, as a table or a column",
  );
  await taForm.getByLabel("Rate limit name").fill("sre-rpm");
  await taForm.getByLabel("Limit 1", { exact: true }).fill("100");
  await taForm.getByRole("button", { name: "Create rate limit" }).click();
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /sre-rpm 100 requests_per_minute/ }).waitFor();
  const visibleLimits = await page.getByRole("table", { name: "Rate limits" }).locator("tbody tr").count();
  check(visibleLimits === 1, `the team admin creates a rate limit for their team and sees only their team's (${visibleLimits})`);
  // The server lets a team admin change their team's rules: the edit and delete controls are there.
  await page.getByRole("button", { name: "Edit sre-rpm" }).click();
  const taEdit = page.getByRole("form", { name: "Edit rate limit sre-rpm" });
  await taEdit.getByLabel("Limit 1", { exact: true }).fill("120");
  await taEdit.getByRole("button", { name: "Save" }).click();
  await page.getByRole("table", { name: "Rate limits" }).getByRole("row", { name: /sre-rpm 120 requests_per_minute/ }).waitFor();
  check((await page.getByRole("button", { name: "Delete sre-rpm" }).count()) === 1, "the team admin edits their team's rate limit (UpdateRateLimit) and may delete it");
  await page.getByRole("link", { name: "API keys" }).click();
  const taKeyForm = page.getByRole("form", { name: "Create an API key" });
  check((await taKeyForm.getByLabel("Owner (user)").inputValue()) === "lena", "the team admin's own user is preselected as the key's owner");
  await page.getByRole("row", { name: /lena-key/ }).waitFor();
  check((await page.locator("main tbody tr").count()) === 1, "the team admin sees only the keys of their team");
  await shot("team-admin-view");

  // Single sign-on through the login identity provider: authorization code with PKCE, state
  // and nonce; the token ends up in sessionStorage only, the URL clean after the callback.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to llmgw" }).waitFor();
  const csp = (await page.request.get(`${url}/ui/`)).headers()["content-security-policy"] ?? "";
  check(csp.includes(`connect-src 'self' ${new URL(ssoIssuer).origin};`), `the CSP lets the app reach the login identity provider and nothing else (${csp})`);
  await page.goto(`${url}/ui/signin?code=forged&state=forged`);
  await page.getByText("does not match a sign-in started here").waitFor();
  check(new URL(page.url()).search === "" && (await page.evaluate(() => sessionStorage.getItem("llmgw.token"))) === null, "a forged sign-in answer is refused, its code gone from the address bar, nothing kept");
  await page.getByRole("button", { name: `Sign in with ${ssoProvider}` }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  const after = new URL(page.url());
  check(after.pathname.startsWith("/ui/") && after.pathname !== "/ui/signin" && after.search === "" && after.hash === "", `after the callback the URL carries no code, state or token (${page.url()})`);
  const ssoToken = await page.evaluate(() => sessionStorage.getItem("llmgw.token"));
  check(ssoToken?.split(".").length === 3 && (await page.evaluate(() => sessionStorage.getItem("llmgw.sso"))) === null && (await page.evaluate(() => localStorage.length)) === 0,
    "the identity provider's token is kept in sessionStorage only, the pending sign-in forgotten");
  check((await navText()) === Object.values(labels).join(","), `the signed-in user (a viewer) sees the pages of their role (${await navText()})`);
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await page.getByRole("row", { name: /sara/ }).waitFor();
  check((await page.locator('main form[aria-label^="Create"]').count()) === 0, "the viewer signed in through the identity provider gets no create controls");
  await shot("sso-view");

  // A token the gateway no longer accepts (an expired identity token) leads back to sign-in.
  await page.evaluate(() => sessionStorage.setItem("llmgw.token", "expired.identity.token"));
  await page.reload();
  await page.getByRole("button", { name: "Sign in again" }).click();
  await page.getByRole("heading", { name: "Sign in to llmgw" }).waitFor();
  check((await page.evaluate(() => sessionStorage.getItem("llmgw.token"))) === null, "a token the gateway refuses leads back to sign-in and is forgotten");

  check(problems.length === 0, `no console errors or CSP refusals (${problems.join(" | ")})`);
} catch (err) {
  // What the page showed when it failed, for the test log.
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) {
      console.log(`page ${p.url()} showed:\n${await p.evaluate(() => document.body.innerText).catch(() => "?")}`);
      await p.screenshot({ path: path.join(shots, "failure.png"), fullPage: true }).catch(() => {});
    }
  }
  throw err;
} finally {
  await browser.close();
}
console.log(`${passed} passed, 0 failed`);
