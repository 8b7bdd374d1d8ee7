// The admin console: a plain ES module on the public JSON API. No framework and no build step.
// Every value from the store reaches the page through textContent or an attribute, never as
// markup. The token lives in this tab's sessionStorage only.

const TOKEN_KEY = "vouchers.token";
const ACTION_LABELS = {
  pause: "Pause", activate: "Activate", edit: "Edit",
  upload_codes: "Upload Codes", archive: "Archive", delete: "Delete",
};
const ACTION_ORDER = ["pause", "activate", "edit", "upload_codes", "archive", "delete"];
const STATUSES = ["active", "paused", "expired", "archived"];
const EVENT_NAMES = ["Partner Voucher Rewarded", "Voucher List Low", "Voucher List Exhausted"];
const RANK = { viewer: 0, allocator: 1, admin: 2 };
// Errors that belong to one field of a form, though the API reports them by code.
const FIELD_OF_CODE = {
  tag_in_use: "tag", partner_not_found: "partner", partner_exists: "name",
  url_not_allowed: "url", template_invalid: "template", immutable_field: "form",
};

let me = null; // {user, role} of the signed-in token

// --- small DOM helpers ------------------------------------------------------------------------

/** An element: h("td", {class: "num"}, "12"). Strings become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (!present(child)) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (selector, root = document) => root.querySelector(selector);

/** A counter of loads: `const mine = loads.next()`, then `loads.stale(mine)` once the answer
 * is in. An answer that an answer to a later request overtook is dropped, not shown. */
function counter() {
  let latest = 0;
  return { next: () => ++latest, stale: (mine) => mine !== latest };
}
const present = (child) => child !== null && child !== undefined && child !== false;

/** Replace a node's children (arrays flattened, empty values left out). */
function put(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter(present));
}
const view = () => $("#view");
const can = (role) => me !== null && RANK[me.role] >= RANK[role];
const number = (n) => Number(n).toLocaleString("en-US");

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString("en-GB", {
    year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

function badge(status) {
  const label = status.replace("_", " ");
  return h("span", { class: `badge ${status}` }, label[0].toUpperCase() + label.slice(1));
}

function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 3500);
}

function show(...nodes) {
  put(view(), ...nodes);
  const heading = $("h1", view());
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

// --- the API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "error";
    this.details = error.details || {};
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(method, path, { json, form, query } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    if ([...params].length) url += `?${params}`;
  }
  const headers = { Authorization: `Bearer ${token()}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) body = form;
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, { code: "network", message: "The service cannot be reached." });
  }
  if (response.status === 401 && path !== "/v1/me") {
    signOut("Your token is no longer accepted; sign in again.");
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  if (!type.includes("application/json")) {
    if (!response.ok) throw new ApiError(response.status, { message: `HTTP ${response.status}` });
    return response;
  }
  const data = await response.json();
  if (!response.ok) throw new ApiError(response.status, data.error || {});
  return data;
}

/** Download what an authenticated GET returns, under the name the service gives it. */
async function download(path, fallbackName) {
  try {
    const response = await api("GET", path);
    const disposition = response.headers.get("content-disposition") || "";
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const blob = await response.blob();
    const link = h("a", { href: URL.createObjectURL(blob), download: named ? decodeURIComponent(named[1]) : fallbackName });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) {
    toast(error.message);
  }
}

const listPath = (id) => `/v1/lists/${encodeURIComponent(id)}`;
const codePath = (code) => encodeURIComponent(code).replaceAll(".", "%2E");

// --- forms ------------------------------------------------------------------------------------

function field(label, input, hint) {
  const id = input.id || `f-${input.name}`;
  input.id = id;
  input.setAttribute("aria-describedby", `${id}-error`);
  return h("div", { class: "field" },
    h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error` }));
}

function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error, .form-error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** Put the API's error next to what caused it: each named field, else the form's own line. */
function showErrors(form, error) {
  clearErrors(form);
  const fields = error.details.fields || [];
  const named = fields.length ? fields : [{ field: FIELD_OF_CODE[error.code] || "form", message: error.message }];
  let first = null;
  for (const { field: name, message } of named) {
    const input = form.elements.namedItem(name.split(".")[0]);
    if (input && input.id) {
      input.setAttribute("aria-invalid", "true");
      const line = error.details.line ? ` (line ${error.details.line})` : "";
      $(`#${CSS.escape(input.id)}-error`, form).textContent = message + line;
      first = first || input;
    } else {
      $(".form-error", form).textContent = message;
    }
  }
  if (first) first.focus();
}

function dialog(title, body, { submit = "Save", danger = false, onSubmit }) {
  const form = h("form", { novalidate: true, method: "dialog" },
    h("h2", {}, title), ...body,
    h("p", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" },
      h("button", { type: "button", value: "cancel", onclick: () => box.close() }, "Cancel"),
      h("button", { type: "submit", class: danger ? "primary danger-fill" : "primary" }, submit)));
  const box = h("dialog", { "aria-label": title }, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $('button[type="submit"]', form);
    button.disabled = true;
    try {
      clearErrors(form);
      await onSubmit(form, box);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

function confirmDialog(title, text, submit, action) {
  dialog(title, [h("p", {}, text)], {
    submit, danger: true,
    onSubmit: async (_form, box) => { await action(); box.close(); },
  });
}

// ISO time <-> the value of a datetime-local input (the browser's own time zone).
function toLocalInput(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
function fromLocalInput(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

// --- a row's menu of allowed actions -----------------------------------------------------------

let closeOpenMenu = () => {};
let placeOpenMenu = () => {};

/** A button that opens a menu of `items` ([text, action] pairs). The open menu is placed in
 * the page's body, fixed next to the button, so no scrolling table clips it. */
function rowMenu(label, items, text = "⋯") {
  const id = `menu-${rowMenu.count = (rowMenu.count || 0) + 1}`;
  const list = h("ul", { role: "menu", id, "aria-label": label, class: "popup-menu" });
  const button = h("button", { type: "button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": id, "aria-label": label }, text);
  const close = () => {
    list.remove();
    button.setAttribute("aria-expanded", "false");
    closeOpenMenu = () => {};
    placeOpenMenu = () => {};
  };
  const place = () => {
    if (!button.isConnected) return close();
    const at = button.getBoundingClientRect();
    const height = list.offsetHeight;
    const below = at.bottom + 4 + height <= window.innerHeight;
    list.style.top = `${below ? at.bottom + 4 : Math.max(4, at.top - 4 - height)}px`;
    list.style.right = `${Math.max(4, document.documentElement.clientWidth - at.right)}px`;
  };
  const open = () => {
    closeOpenMenu();
    document.body.append(list);
    button.setAttribute("aria-expanded", "true");
    place();
    closeOpenMenu = close;
    placeOpenMenu = place;
    list.querySelector("button")?.focus({ preventScroll: true });
  };
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    if (list.isConnected) close(); else open();
  });
  for (const [entry, run] of items) {
    list.append(h("li", { role: "none" },
      h("button", { type: "button", role: "menuitem", onclick: () => { close(); button.focus(); run(); } }, entry)));
  }
  list.addEventListener("click", (event) => event.stopPropagation());
  list.addEventListener("keydown", (event) => {
    const entries = [...list.querySelectorAll("button")];
    const at = entries.indexOf(document.activeElement);
    const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (event.key === "Escape" || event.key === "Tab") { close(); button.focus(); }
    if (step) {
      event.preventDefault();
      entries[(at + step + entries.length) % entries.length].focus({ preventScroll: true });
    }
  });
  return h("div", { class: "menu" }, button);
}
document.addEventListener("click", () => closeOpenMenu());
// The open menu follows its button when the page or a table scrolls, or the window resizes.
window.addEventListener("resize", () => placeOpenMenu());
document.addEventListener("scroll", () => placeOpenMenu(), true);

function actionsFor(list, refresh) {
  const run = (action) => async () => {
    try {
      await api("POST", `${listPath(list.id)}/${action}`);
      toast(`${list.id}: ${ACTION_LABELS[action].toLowerCase()}d`);
      refresh();
    } catch (error) {
      toast(error.message);
    }
  };
  const handlers = {
    pause: run("pause"),
    activate: run("activate"),
    edit: () => editList(list, refresh),
    upload_codes: () => { location.hash = `#/lists/${encodeURIComponent(list.id)}/uploads`; },
    archive: () => confirmDialog(`Archive ${list.id}?`,
      "An archived list keeps its records but can never be used or changed again; its tag becomes free.",
      "Archive", run("archive")),
    delete: () => confirmDialog(`Delete ${list.id}?`, "The list, its codes and its upload log are deleted for good.",
      "Delete", async () => {
        try {
          await api("DELETE", listPath(list.id));
          toast(`${list.id} deleted`);
          if (location.hash.startsWith("#/lists/")) location.hash = "#/lists";
          else refresh();
        } catch (error) {
          toast(error.message);
        }
      }),
  };
  return ACTION_ORDER.filter((a) => list.allowed_actions.includes(a)).map((a) => [ACTION_LABELS[a], handlers[a]]);
}

// --- voucher lists ----------------------------------------------------------------------------

async function partnerNames() {
  const names = [];
  let cursor = null;
  do {
    const page = await api("GET", "/v1/partners", { query: { limit: 500, cursor } });
    names.push(...page.items.map((p) => p.name));
    cursor = page.next_cursor;
  } while (cursor && names.length < 5000);
  return names;
}

function listForm(list, partners) {
  const inputs = [];
  if (!list) {
    const partner = h("select", { name: "partner", required: true },
      h("option", { value: "" }, "Choose a partner"), partners.map((p) => h("option", { value: p }, p)));
    inputs.push(field("Partner", partner),
      field("List tag", h("input", { name: "tag", required: true, autocomplete: "off" }), "Lowercase, no spaces; unique for the partner."));
  }
  inputs.push(
    field("Name", h("input", { name: "name", required: true, value: list?.name ?? "" })),
    field("Description", h("textarea", { name: "description" }, list?.description ?? "")),
    field("Expiry", h("input", { name: "expires_at", type: "datetime-local", required: true, value: list ? toLocalInput(list.expires_at) : "" })),
    field("Low-stock threshold", h("input", { name: "low_stock_threshold", type: "number", min: 0, value: list?.low_stock_threshold ?? "" }),
      "Alert when this few codes are left; empty for no alert."),
  );
  return inputs;
}

function listBody(form) {
  const value = (name) => form.elements.namedItem(name)?.value;
  const body = { name: value("name"), description: value("description"), expires_at: fromLocalInput(value("expires_at")) };
  const threshold = value("low_stock_threshold");
  body.low_stock_threshold = threshold === "" ? null : Number(threshold);
  if (form.elements.namedItem("partner")) {
    body.partner = value("partner");
    body.tag = value("tag");
  }
  return body;
}

async function createList(refresh) {
  const partners = await partnerNames();
  dialog("Create list", listForm(null, partners), {
    submit: "Create list",
    onSubmit: async (form, box) => {
      const made = await api("POST", "/v1/lists", { json: listBody(form) });
      box.close();
      toast(`List ${made.id} created`);
      refresh();
    },
  });
}

function editList(list, refresh) {
  dialog(`Edit ${list.id}`, listForm(list, []), {
    onSubmit: async (form, box) => {
      await api("PATCH", listPath(list.id), { json: listBody(form) });
      box.close();
      toast(`${list.id} saved`);
      refresh();
    },
  });
}

function createPartner(refresh) {
  dialog("Add partner", [field("Partner name", h("input", { name: "name", required: true }))], {
    submit: "Add partner",
    onSubmit: async (form, box) => {
      await api("POST", "/v1/partners", { json: { name: form.elements.namedItem("name").value } });
      box.close();
      toast("Partner added");
      refresh();
    },
  });
}

async function listsPage() {
  const state = { status: "", partner: "", limit: 50, cursors: [null] };
  const statusFilter = h("select", { id: "filter-status" },
    h("option", { value: "" }, "All statuses"), STATUSES.map((s) => h("option", { value: s }, s[0].toUpperCase() + s.slice(1))));
  const partnerFilter = h("select", { id: "filter-partner" }, h("option", { value: "" }, "All partners"));
  const sizeFilter = h("select", { id: "filter-size" }, [50, 100, 500].map((n) => h("option", { value: n }, n)));
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const admin = can("admin");
  const head = ["List ID", "Partner", "List Tag", "Updated On", "Status", "Linked Promo Campaigns", "Codes Uploaded", "Codes Distributed"];
  const table = h("table", { "aria-label": "Voucher lists" },
    h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i >= 5 ? "num" : null }, t)),
      admin ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null)),
    body);

  const loads = counter();
  async function load() {
    const cursor = state.cursors[state.cursors.length - 1];
    const mine = loads.next();
    let page;
    try {
      page = await api("GET", "/v1/lists", { query: { status: state.status, partner: state.partner, limit: state.limit, cursor } });
    } catch (error) {
      if (!loads.stale(mine)) put(body, h("tr", {}, h("td", { colspan: 9, class: "empty" }, error.message)));
      return;
    }
    if (loads.stale(mine)) return;
    const refresh = () => load();
    put(body, ...page.items.map((list) => h("tr", {},
      h("td", {}, h("a", { class: "list-id", href: `#/lists/${encodeURIComponent(list.id)}` }, list.id)),
      h("td", {}, list.partner), h("td", { class: "mono" }, list.tag), h("td", {}, when(list.updated_at)),
      h("td", {}, badge(list.status)), h("td", { class: "num" }, number(list.linked_campaigns)),
      h("td", { class: "num" }, number(list.codes_uploaded)), h("td", { class: "num" }, number(list.codes_distributed)),
      admin ? h("td", { class: "menu-cell" }, list.allowed_actions.length
        ? rowMenu(`Actions for ${list.id}`, actionsFor(list, refresh)) : h("span", { class: "muted" }, "—")) : null)));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No voucher lists match.")));
    const at = state.cursors.length;
    summary.textContent = `Page ${at} · ${page.items.length} list${page.items.length === 1 ? "" : "s"} shown`;
    put(pager, 
      h("button", { type: "button", disabled: at === 1, onclick: () => { state.cursors.pop(); load(); } }, "Previous page"),
      h("button", { type: "button", disabled: !page.next_cursor, onclick: () => { state.cursors.push(page.next_cursor); load(); } }, "Next page"));
  }
  const reset = () => { state.cursors = [null]; load(); };
  statusFilter.addEventListener("change", () => { state.status = statusFilter.value; reset(); });
  partnerFilter.addEventListener("change", () => { state.partner = partnerFilter.value; reset(); });
  sizeFilter.addEventListener("change", () => { state.limit = Number(sizeFilter.value); reset(); });

  const partnerLoads = counter();
  const fillPartners = async () => {
    const mine = partnerLoads.next();
    const names = await partnerNames();
    if (partnerLoads.stale(mine)) return;
    put(partnerFilter, h("option", { value: "" }, "All partners"), ...names.map((n) => h("option", { value: n }, n)));
    partnerFilter.value = state.partner;
  };
  show(
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h1", {}, "Voucher Lists"), h("p", { class: "muted" }, "Codes from your partners, ready to hand out in promo campaigns.")),
      admin ? h("button", { type: "button", onclick: () => createPartner(fillPartners) }, "Add partner") : null,
      admin ? h("button", { type: "button", class: "primary", onclick: () => createList(reset) }, "Create list") : null),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: "filter-status" }, "Status"), statusFilter),
      h("div", {}, h("label", { for: "filter-partner" }, "Partner"), partnerFilter),
      h("div", {}, h("label", { for: "filter-size" }, "Rows per page"), sizeFilter)),
    h("div", { class: "table-wrap" }, table), h("div", { class: "pager-row" }, summary, pager));
  await Promise.all([load(), fillPartners().catch(() => {})]);
}

// --- one list ---------------------------------------------------------------------------------

const TABS = [["details", "Details"], ["uploads", "Uploads"], ["campaigns", "Campaigns"], ["allocations", "Allocations"]];

async function listPage(id, tab) {
  let list;
  try {
    list = await api("GET", listPath(id));
  } catch (error) {
    show(h("p", { class: "crumbs" }, h("a", { href: "#/lists" }, "Voucher Lists")), h("h1", {}, "List not found"), h("p", {}, error.message));
    return;
  }
  const panel = h("div", { role: "tabpanel", id: "tab-panel", "aria-labelledby": `tab-${tab}` });
  const tabs = h("div", { role: "tablist", "aria-label": "List sections" }, TABS.map(([key, label]) =>
    h("button", {
      type: "button", role: "tab", id: `tab-${key}`, "aria-selected": String(key === tab), "aria-controls": "tab-panel",
      tabindex: key === tab ? "0" : "-1",
      onclick: () => { location.hash = `#/lists/${encodeURIComponent(id)}/${key}`; },
    }, label)));
  tabs.addEventListener("keydown", (event) => {
    const at = TABS.findIndex(([key]) => key === tab);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) location.hash = `#/lists/${encodeURIComponent(id)}/${TABS[(at + step + TABS.length) % TABS.length][0]}`;
  });
  const refresh = () => route();
  show(
    h("p", { class: "crumbs" }, h("a", { href: "#/lists" }, "Voucher Lists"), " / ", list.id),
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h1", {}, list.name), h("p", { class: "muted" }, `${list.partner} · ${list.tag} · `, badge(list.status))),
      can("admin") && list.allowed_actions.length ? rowMenu(`Actions for ${list.id}`, actionsFor(list, refresh), "Actions ▾") : null),
    tabs, panel);
  await { details: detailsTab, uploads: uploadsTab, campaigns: campaignsTab, allocations: allocationsTab }[tab](list, panel);
  if (document.activeElement === document.body || document.activeElement?.tagName === "H1") $(`#tab-${tab}`)?.focus({ preventScroll: true });
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function detailsTab(list, panel) {
  const used = list.codes_uploaded ? Math.round((list.codes_distributed / list.codes_uploaded) * 100) : 0;
  const meter = h("span");
  meter.style.width = `${used}%`; // set through the CSSOM, which the style-src policy allows
  const fields = [
    ["List ID", list.id], ["Partner", list.partner], ["List tag", list.tag], ["Name", list.name],
    ["Description", list.description || "—"], ["Status", badge(list.status)], ["Expires", when(list.expires_at)],
    ["Created", when(list.created_at)], ["Updated", when(list.updated_at)],
    ["Linked promo campaigns", number(list.linked_campaigns)],
  ];
  put(panel, 
    h("h2", {}, "Utilisation"),
    h("div", { class: "stats" },
      stat("Codes uploaded", number(list.codes_uploaded)), stat("Codes distributed", number(list.codes_distributed)),
      stat("Codes available", number(list.codes_available)),
      stat("Low-stock threshold", list.low_stock_threshold === null ? "None" : number(list.low_stock_threshold))),
    h("div", { class: "meter", role: "img", "aria-label": `${used}% distributed` }, meter),
    h("h2", {}, "Details"),
    h("div", { class: "card" }, h("dl", { class: "fields" },
      fields.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]))));
}

function uploadRow(list, upload) {
  const errors = upload.errors.map((e) => `${e.code} ${number(e.count)}`).join(", ");
  const base = `${listPath(list.id)}/uploads/${encodeURIComponent(upload.id)}`;
  return h("tr", {},
    h("td", {}, badge(upload.status)), h("td", {}, upload.uploaded_by), h("td", {}, upload.file_name),
    h("td", {}, when(upload.created_at)),
    h("td", { class: "num" }, `${number(upload.codes_uploaded)} / ${number(upload.codes_total)}`),
    h("td", {}, upload.error_count ? `${number(upload.error_count)} (${errors})` : "None"),
    h("td", {}, can("admin") ? [ // the files hold codes: admin only
      h("button", { type: "button", class: "link", onclick: () => download(`${base}/file`, upload.file_name) }, "Original file"),
      upload.error_count || upload.status === "failed" ? [" · ",
        h("button", { type: "button", class: "link", onclick: () => download(`${base}/errors`, `${upload.id}-errors.csv`) }, "Error file")] : null]
      : h("span", { class: "muted" }, "—")));
}

async function uploadsTab(list, panel) {
  const body = h("tbody");
  const more = h("div", { class: "pager" });
  const progress = h("div", { class: "upload-progress", "aria-live": "polite" });
  const picker = h("input", { type: "file", id: "upload-file", accept: ".csv,text/csv", hidden: true });
  const uploadable = can("admin") && list.allowed_actions.includes("upload_codes");

  const loads = counter();
  async function load(cursor = null) {
    const mine = loads.next();
    const page = await api("GET", `${listPath(list.id)}/uploads`, { query: { limit: 50, cursor } });
    if (loads.stale(mine)) return;
    const rows = page.items.map((u) => uploadRow(list, u));
    if (cursor) body.append(...rows); else put(body, ...rows);
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No uploads yet.")));
    put(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Show more") : "");
  }

  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    picker.value = "";
    if (file) await sendFile(list, file, progress, () => load());
  });
  put(panel, 
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h2", {}, "Upload log"), h("p", { class: "muted" }, "CSV files, one code per row, up to 50 MiB.")),
      uploadable ? h("button", { type: "button", class: "primary", onclick: () => picker.click() }, "Upload codes") : null,
      uploadable ? h("label", { for: "upload-file", class: "visually-hidden" }, "CSV file") : null, picker),
    progress,
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Uploads" },
      h("thead", {}, h("tr", {}, ["Status", "Uploaded By", "File Name", "Uploaded On", "Codes Uploaded/Total", "Errors", "Files"]
        .map((t) => h("th", { scope: "col", class: t.startsWith("Codes") ? "num" : null }, t)))), body)),
    more);
  await load();
}

/** Send a file with a progress bar for the transfer, then follow the upload until it ends. */
async function sendFile(list, file, box, done) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Upload progress" });
  const text = h("p", { class: "muted" }, `Sending ${file.name}…`);
  put(box, text, bar);
  const form = new FormData();
  form.append("file", file, file.name);
  let upload;
  try {
    upload = await new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", `${listPath(list.id)}/uploads`);
      request.setRequestHeader("Authorization", `Bearer ${token()}`);
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          bar.value = Math.round((event.loaded / event.total) * 100);
          text.textContent = `Sending ${file.name}: ${bar.value}%`;
        }
      });
      request.addEventListener("load", () => {
        let data = {};
        try { data = JSON.parse(request.responseText); } catch { /* not JSON */ }
        if (request.status === 202) resolve(data);
        else reject(new ApiError(request.status, data.error || { message: `HTTP ${request.status}` }));
      });
      request.addEventListener("error", () => reject(new ApiError(0, { message: "The service cannot be reached." })));
      request.send(form);
    });
  } catch (error) {
    put(box, h("p", { class: "form-error", role: "alert" }, `${file.name}: ${error.message}`));
    return;
  }
  bar.removeAttribute("value"); // processing: indeterminate until the upload ends
  await done();
  const path = `${listPath(list.id)}/uploads/${encodeURIComponent(upload.id)}`;
  while (upload.status === "in_progress") {
    text.textContent = `Processing ${file.name}: ${number(upload.codes_total)} rows checked…`;
    await new Promise((resolve) => setTimeout(resolve, 400));
    try {
      upload = await api("GET", path);
    } catch (error) {
      text.textContent = error.message;
    }
  }
  const outcome = upload.status === "completed"
    ? `${file.name}: ${number(upload.codes_uploaded)} of ${number(upload.codes_total)} codes uploaded, ${number(upload.error_count)} rejected.`
    : `${file.name} failed: ${upload.errors.map((e) => e.code).join(", ")}.`;
  put(box, h("p", { role: "status", class: upload.status === "completed" ? null : "form-error" }, outcome));
  await done();
}

async function campaignsTab(list, panel) {
  const body = h("tbody");
  const admin = can("admin");
  async function load() {
    const items = [];
    let cursor = null;
    do {
      const page = await api("GET", `${listPath(list.id)}/campaigns`, { query: { limit: 500, cursor } });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < 2000);
    put(body, ...items.map((link) => h("tr", {},
      h("td", { class: "mono" }, link.campaign_id), h("td", {}, when(link.linked_at)),
      admin ? h("td", { class: "menu-cell" }, h("button", {
        type: "button", class: "danger", "aria-label": `Unlink ${link.campaign_id}`,
        onclick: async () => {
          try {
            await api("DELETE", `${listPath(list.id)}/campaigns/${encodeURIComponent(link.campaign_id)}`);
            toast(`${link.campaign_id} unlinked`);
            load();
          } catch (error) { toast(error.message); }
        },
      }, "Unlink")) : null)));
    if (!items.length) body.append(h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No campaign uses this list.")));
  }
  const form = h("form", { class: "filters", novalidate: true },
    h("div", {}, field("Campaign ID", h("input", { name: "campaign_id", id: "campaign-id", autocomplete: "off" }))),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Link campaign")),
    h("p", { class: "form-error", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.elements.namedItem("campaign_id").value.trim();
    try {
      clearErrors(form);
      await api("PUT", `${listPath(list.id)}/campaigns/${encodeURIComponent(id)}`);
      form.reset();
      toast(`${id} linked`);
      await load();
    } catch (error) {
      if (error.code === "validation_error" || error.status === 404) {
        showErrors(form, { ...error, details: { fields: [{ field: "campaign_id", message: error.status === 404 ? "Use letters, digits and _ . : - (1 to 128)." : error.message }] } });
      } else showErrors(form, error);
    }
  });
  put(panel, h("h2", {}, "Linked promo campaigns"), admin ? form : null,
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Linked campaigns" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Campaign ID"), h("th", { scope: "col" }, "Linked On"),
        admin ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null)), body)));
  await load();
}

async function allocationsTab(list, panel) {
  if (!can("allocator")) {
    put(panel, h("p", { class: "muted" }, "Allocations show voucher codes, which your token's role (viewer) may not see."));
    return;
  }
  const body = h("tbody");
  const more = h("div", { class: "pager" });
  const userFilter = h("input", { id: "alloc-user", type: "search", placeholder: "Any user" });
  const loads = counter();
  async function load(cursor = null) {
    const mine = loads.next();
    const page = await api("GET", `${listPath(list.id)}/allocations`, { query: { limit: 100, cursor, order: "newest", user_id: userFilter.value.trim() } });
    if (loads.stale(mine)) return;
    const rows = page.items.map((a) => h("tr", {},
      h("td", { class: "mono" }, a.voucher_code), h("td", {}, a.user_id), h("td", { class: "mono" }, a.campaign_id),
      h("td", {}, a.source), h("td", {}, when(a.issued_at))));
    if (cursor) body.append(...rows); else put(body, ...rows);
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No codes handed out yet.")));
    put(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Show more") : "");
  }
  userFilter.addEventListener("change", () => load());
  const result = h("div", { "aria-live": "polite", id: "lookup-result" });
  const lookup = h("form", { class: "filters", novalidate: true },
    h("div", {}, field("Voucher code", h("input", { name: "code", id: "lookup-code", autocomplete: "off" }))),
    h("div", {}, h("button", { type: "submit" }, "Look up")),
    h("p", { class: "form-error", role: "alert" }));
  lookup.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = lookup.elements.namedItem("code").value.trim();
    if (!code) return;
    try {
      clearErrors(lookup);
      const found = await api("GET", `${listPath(list.id)}/codes/${codePath(code)}`);
      put(result, h("div", { class: "card" }, h("dl", { class: "fields" },
        h("dt", {}, "Code"), h("dd", { class: "mono" }, found.code),
        h("dt", {}, "State"), h("dd", {}, found.state === "issued" ? "Issued" : "Available"),
        found.user_id ? [h("dt", {}, "User"), h("dd", {}, found.user_id)] : null,
        found.campaign_id ? [h("dt", {}, "Campaign"), h("dd", {}, found.campaign_id)] : null,
        found.issued_at ? [h("dt", {}, "Issued"), h("dd", {}, when(found.issued_at))] : null)));
    } catch (error) {
      put(result);
      showErrors(lookup, { ...error, details: { fields: [{ field: "code", message: error.message }] } });
    }
  });
  put(panel, 
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h2", {}, "Allocations"), h("p", { class: "muted" }, "Newest first.")),
      h("button", { type: "button", onclick: () => download(`${listPath(list.id)}/allocations.csv`, `${list.id}-allocations.csv`) }, "Export CSV")),
    can("admin") ? [lookup, result] : null,
    h("div", { class: "filters" }, h("div", {}, h("label", { for: "alloc-user" }, "Filter by user"), userFilter)),
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Allocations" },
      h("thead", {}, h("tr", {}, ["Voucher Code", "User", "Campaign", "Source", "Issued On"].map((t) => h("th", { scope: "col" }, t)))), body)),
    more);
  await load();
}

// --- webhooks ---------------------------------------------------------------------------------

function webhookForm(endpoint) {
  const chosen = endpoint ? endpoint.events : EVENT_NAMES;
  return [
    field("URL", h("input", { name: "url", type: "url", required: true, value: endpoint?.url ?? "", placeholder: "https://example.com/hooks/vouchers" })),
    h("fieldset", { id: "f-events", "aria-describedby": "f-events-error" }, h("legend", {}, "Events"),
      EVENT_NAMES.map((name, i) => h("label", { class: "check", for: `event-${i}` },
        h("input", { type: "checkbox", id: `event-${i}`, name: "event", value: name, checked: chosen.includes(name) }), name)),
      h("p", { class: "field-error", id: "f-events-error" })),
    field("Lists", h("input", { name: "list_ids", value: endpoint?.list_ids?.join(", ") ?? "", placeholder: "Every list" }), "List IDs separated by commas; empty for every list."),
    field("Description", h("input", { name: "description", value: endpoint?.description ?? "" })),
    field("Template", h("textarea", { name: "template", placeholder: "Hi {{ event.user_id }}, your code is {{ voucherCode }}" }, endpoint?.template ?? ""),
      "Liquid; empty sends the event as JSON."),
    field("Content type", h("select", { name: "content_type" },
      ["application/json", "text/plain"].map((t) => h("option", { value: t, selected: endpoint?.content_type === t }, t)))),
    h("label", { class: "check", for: "f-enabled" }, h("input", { type: "checkbox", id: "f-enabled", name: "enabled", checked: endpoint ? endpoint.enabled : true }), "Enabled"),
  ];
}

function webhookBody(form) {
  const value = (name) => form.elements.namedItem(name).value;
  const lists = value("list_ids").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    url: value("url").trim(),
    events: [...form.querySelectorAll('input[name="event"]:checked')].map((box) => box.value),
    list_ids: lists.length ? lists : null,
    description: value("description"),
    template: value("template") === "" ? null : value("template"),
    content_type: value("content_type"),
    enabled: form.elements.namedItem("enabled").checked,
  };
}

function secretNotice(secret) {
  return h("div", { class: "secret", role: "status" },
    h("strong", {}, "Signing secret — copy it now, it is shown only once."),
    h("code", { id: "webhook-secret" }, secret));
}

async function webhooksPage() {
  if (!can("admin")) {
    show(h("h1", {}, "Webhooks"), h("p", { class: "muted" }, "Webhooks are managed with an admin token."));
    return;
  }
  const body = h("tbody");
  const notice = h("div");
  async function load() {
    const page = await api("GET", "/v1/webhooks");
    put(body, ...page.items.map((e) => h("tr", {},
      h("td", {}, h("a", { href: `#/webhooks/${encodeURIComponent(e.id)}` }, e.url)),
      h("td", {}, e.events.join(", ")), h("td", {}, e.list_ids ? e.list_ids.join(", ") : "Every list"),
      h("td", {}, badge(e.enabled ? "active" : "disabled")), h("td", {}, e.description))));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No endpoints yet.")));
  }
  const create = () => dialog("Create webhook", webhookForm(null), {
    submit: "Create webhook",
    onSubmit: async (form, box) => {
      const made = await api("POST", "/v1/webhooks", { json: webhookBody(form) });
      box.close();
      put(notice, secretNotice(made.secret));
      await load();
    },
  });
  show(
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h1", {}, "Webhooks"), h("p", { class: "muted" }, "Events pushed to your systems, signed per Standard Webhooks.")),
      h("button", { type: "button", onclick: () => previewDialog("") }, "Preview a template"),
      h("button", { type: "button", class: "primary", onclick: create }, "Create webhook")),
    notice,
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Webhook endpoints" },
      h("thead", {}, h("tr", {}, ["URL", "Events", "Lists", "Status", "Description"].map((t) => h("th", { scope: "col" }, t)))), body)));
  await load();
}

function previewDialog(template) {
  const output = h("pre", { class: "preview", "aria-label": "Rendered body", id: "preview-output" });
  dialog("Preview a template", [
    field("Template", h("textarea", { name: "template", id: "preview-template" }, template)),
    h("h3", {}, "Rendered with a sample reward event"), output,
  ], {
    submit: "Preview",
    onSubmit: async (form) => {
      const made = await api("POST", "/v1/webhooks/preview", { json: { template: form.elements.namedItem("template").value } });
      output.textContent = made.body;
    },
  });
}

async function webhookPage(id) {
  let endpoint;
  try {
    endpoint = await api("GET", `/v1/webhooks/${encodeURIComponent(id)}`);
  } catch (error) {
    show(h("p", { class: "crumbs" }, h("a", { href: "#/webhooks" }, "Webhooks")), h("h1", {}, "Webhook not found"), h("p", {}, error.message));
    return;
  }
  const path = `/v1/webhooks/${encodeURIComponent(id)}`;
  const notice = h("div");
  const body = h("tbody");
  const more = h("div", { class: "pager" });
  const statusFilter = h("select", { id: "delivery-status" }, h("option", { value: "" }, "All"),
    ["pending", "delivered", "failed"].map((s) => h("option", { value: s }, s[0].toUpperCase() + s.slice(1))));
  const loads = counter();
  async function load(cursor = null) {
    const mine = loads.next();
    const page = await api("GET", `${path}/deliveries`, { query: { limit: 50, cursor, status: statusFilter.value } });
    if (loads.stale(mine)) return;
    const rows = page.items.map((d) => h("tr", {},
      h("td", { class: "mono" }, d.event_id), h("td", {}, d.event_name), h("td", {}, badge(d.status)),
      h("td", { class: "num" }, d.attempts), h("td", {}, when(d.last_attempt_at)),
      h("td", {}, d.last_status_code ?? "—", d.last_error ? ` ${d.last_error}` : ""),
      h("td", {}, d.status === "failed" ? h("button", {
        type: "button", "aria-label": `Retry ${d.id}`,
        onclick: async () => {
          try { await api("POST", `${path}/deliveries/${encodeURIComponent(d.id)}/retry`); toast("Queued for another attempt"); load(); } catch (error) { toast(error.message); }
        },
      }, "Retry") : null)));
    if (cursor) body.append(...rows); else put(body, ...rows);
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No deliveries.")));
    put(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Show more") : "");
  }
  statusFilter.addEventListener("change", () => load());
  const edit = () => dialog("Edit webhook", webhookForm(endpoint), {
    onSubmit: async (form, box) => { await api("PATCH", path, { json: webhookBody(form) }); box.close(); toast("Webhook saved"); route(); },
  });
  const rotate = () => confirmDialog("Rotate the secret?", "A new secret signs from now on; the old one also signs for a day.", "Rotate secret", async () => {
    const made = await api("POST", `${path}/rotate-secret`);
    put(notice, secretNotice(made.secret));
  });
  const remove = () => confirmDialog("Delete this webhook?", "Its deliveries are deleted and nothing more is sent to it.", "Delete", async () => {
    await api("DELETE", path);
    toast("Webhook deleted");
    location.hash = "#/webhooks";
  });
  show(
    h("p", { class: "crumbs" }, h("a", { href: "#/webhooks" }, "Webhooks"), " / ", endpoint.id),
    h("div", { class: "page-head" },
      h("div", { class: "grow" }, h("h1", {}, endpoint.url), h("p", { class: "muted" }, badge(endpoint.enabled ? "active" : "disabled"), " ", endpoint.description)),
      h("button", { type: "button", onclick: () => previewDialog(endpoint.template ?? "") }, "Preview template"),
      h("button", { type: "button", onclick: edit }, "Edit"),
      h("button", { type: "button", onclick: rotate }, "Rotate secret"),
      h("button", { type: "button", class: "danger", onclick: remove }, "Delete")),
    notice,
    h("h2", {}, "Delivery log"),
    h("div", { class: "filters" }, h("div", {}, h("label", { for: "delivery-status" }, "Status"), statusFilter)),
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Deliveries" },
      h("thead", {}, h("tr", {}, ["Event", "Name", "Status", "Attempts", "Last Attempt", "Last Answer", ""].map((t) => h("th", { scope: "col" }, t)))), body)),
    more);
  await load();
}

// --- signing in and routing -------------------------------------------------------------------

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  route();
  if (message) $("#token-error").textContent = message;
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#token");
  const value = input.value.trim();
  $("#token-error").textContent = "";
  if (!value) {
    $("#token-error").textContent = "Enter an API token.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  try {
    me = await api("GET", "/v1/me");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("#token-error").textContent = error.status === 401 ? "That token is not valid." : error.message;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  input.value = "";
  input.removeAttribute("aria-invalid");
  route();
}

async function route() {
  const signedIn = token() !== null;
  if (signedIn && me === null) {
    try {
      me = await api("GET", "/v1/me");
    } catch {
      sessionStorage.removeItem(TOKEN_KEY);
      return route();
    }
  }
  $("#sign-in").hidden = signedIn;
  $("#nav").hidden = !signedIn;
  $("#who").hidden = !signedIn;
  if (!signedIn) {
    put(view());
    $("#token").focus();
    return;
  }
  $("#who-name").textContent = `${me.user} (${me.role})`;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const section = parts[0] === "webhooks" ? "webhooks" : "lists";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  document.title = section === "webhooks" ? "Webhooks · Partner Vouchers" : "Voucher Lists · Partner Vouchers";
  if (section === "webhooks") return parts[1] ? webhookPage(parts[1]) : webhooksPage();
  if (parts[1]) return listPage(parts[1], TABS.some(([key]) => key === parts[2]) ? parts[2] : "details");
  return listsPage();
}

$("#sign-in-form").addEventListener("submit", signIn);
$("#sign-out").addEventListener("click", () => signOut());
// A link to the page already shown loads it again (a hash that does not change fires nothing).
document.addEventListener("click", (event) => {
  const link = event.target.closest?.('a[href^="#"]');
  if (link && link.getAttribute("href") === location.hash) route();
});
window.addEventListener("hashchange", () => route());
route();
