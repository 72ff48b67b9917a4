/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * dfotad's Cockpit page. Everything shown comes from org.dfotad1 on the system bus through
 * cockpit.dbus: the Modem and Fota properties (kept live by the bridge's watch, i.e.
 * PropertiesChanged), the Progress and Finished signals, and the Upgrade / UpgradeViaHost calls.
 * The daemon is the only judge of input: the page sends what the user typed and shows the
 * D-Bus error of a refused call in words, so the page can never accept what the daemon refuses.
 */
"use strict";

(function () {
    const BUS_NAME = "org.dfotad1";
    const ROOT = "/org/dfotad1";
    const DEFAULT_MODEM = "/org/dfotad1/Modem/0";
    const MODEM_IFACE = "org.dfotad1.Modem";
    const FOTA_IFACE = "org.dfotad1.Fota";
    const ERROR_PREFIX = "org.dfotad1.Error.";
    const _ = cockpit.gettext;

    let client = null; /* cockpit.dbus client of the current connection */
    let modems = null; /* proxies collection of org.dfotad1.Modem under ROOT */
    let current = null; /* { path, fota } of the modem shown */
    let ownerSeen = false;

    function $(id) {
        return document.getElementById(id);
    }

    function setText(id, text) {
        const el = $(id);
        const value = text === undefined || text === null ? "" : String(text);
        if (el.textContent !== value)
            el.textContent = value;
    }

    /* a{sv} values arrive from the bridge as { t: signature, v: value } */
    function unwrap(value) {
        if (value !== null && typeof value === "object" && "t" in value && "v" in value)
            return value.v;
        return value;
    }

    function dictGet(dict, key, fallback) {
        if (!dict || !(key in dict))
            return fallback;
        return unwrap(dict[key]);
    }

    /* "org.dfotad1.Error.InvalidUrl" → "InvalidUrl"; other buses' errors keep their last part */
    function shortErrorName(name) {
        if (!name)
            return "";
        if (name.indexOf(ERROR_PREFIX) === 0)
            return name.substring(ERROR_PREFIX.length);
        return name.substring(name.lastIndexOf(".") + 1);
    }

    function describeError(ex) {
        if (ex && ex.name)
            return shortErrorName(ex.name) + ": " + ex.message;
        if (ex && ex.problem)
            return ex.problem + ": " + cockpit.message(ex);
        return String(ex);
    }

    function showError(text) {
        setText("error", text);
        $("error-box").hidden = !text;
    }

    function showDaemonStatus(text) {
        setText("daemon-status", text);
        $("daemon-status").hidden = !text;
    }

    function revisions(from, to) {
        if (from && to)
            return from + " \u2192 " + to;
        if (from)
            return cockpit.format(_("from $0"), from);
        if (to)
            return cockpit.format(_("now $0"), to);
        return "";
    }

    /* "success: The job succeeded (A → B)" or "PackageNotFound: <message> (A → B)" */
    function formatResult(result) {
        if (!result || Object.keys(result).length === 0)
            return "";
        const success = dictGet(result, "success", false);
        let text = success ? "success" : shortErrorName(dictGet(result, "error", "")) || "failed";
        const message = dictGet(result, "message", "");
        if (message)
            text += ": " + message;
        const details = [];
        const revs = revisions(dictGet(result, "from-revision", ""),
                               dictGet(result, "to-revision", ""));
        if (revs)
            details.push(revs);
        const file = dictGet(result, "file", "");
        if (file)
            details.push(cockpit.format(_("file $0, $1 bytes"), file,
                                        dictGet(result, "size", 0)));
        if (details.length)
            text += " (" + details.join(", ") + ")";
        return text;
    }

    function formatResultContext(result) {
        if (!result || Object.keys(result).length === 0)
            return "";
        const parts = [];
        const kind = dictGet(result, "kind", "");
        if (kind)
            parts.push(kind);
        const id = dictGet(result, "id", null);
        if (id !== null)
            parts.push(cockpit.format(_("job $0"), id));
        if (dictGet(result, "via-host", false))
            parts.push(_("downloaded by the gateway"));
        const finished = dictGet(result, "finished", 0);
        if (finished)
            parts.push(cockpit.format(_("finished $0"),
                                      new Date(Number(finished) / 1000).toLocaleString()));
        const source = dictGet(result, "source", "");
        if (source)
            parts.push(source);
        return parts.join(" \u00b7 ");
    }

    function formatNetwork(network) {
        if (!network || Object.keys(network).length === 0)
            return "";
        if (!dictGet(network, "registered", false))
            return _("not registered");
        const parts = [_("registered")];
        for (const key of ["access-technology", "operator", "ip-address"]) {
            const value = dictGet(network, key, "");
            if (value)
                parts.push(value);
        }
        return parts.join(", ");
    }

    function modemProxy() {
        if (!current || !modems)
            return null;
        const proxy = modems[current.path];
        return proxy && proxy.valid ? proxy : null;
    }

    function renderModem() {
        const m = modemProxy();
        setText("modem-model", m ? m.Model : "");
        setText("modem-revision", m ? m.Revision : "");
        setText("modem-state", m ? m.State : "");
        $("modem-state").dataset.state = m ? m.State : "";
        /* a daemon without the Imei property has no row for it, rather than an empty one */
        const hasImei = !!m && m.Imei !== undefined;
        setText("modem-imei", hasImei ? m.Imei : "");
        $("modem-imei").hidden = !hasImei;
        $("modem-imei-label").hidden = !hasImei;
        setText("modem-port", m ? m.Port : "");
        setText("modem-network", m ? formatNetwork(m.Network) : "");
    }

    function renderProgress(phase, percent) {
        const pct = Math.max(0, Math.min(100, Number(percent) || 0));
        setText("job-phase", phase || "idle");
        setText("job-percent", String(pct));
        $("job-progress-bar").style.width = pct + "%";
        $("job-progress").setAttribute("aria-valuenow", String(pct));
        $("job-progress").dataset.phase = phase || "idle";
    }

    function renderLastResult(result) {
        const text = formatResult(result);
        setText("last-result", text);
        $("last-result").dataset.success = text ? String(dictGet(result, "success", false)) : "";
        $("last-result-none").hidden = !!text;
        setText("last-result-when", formatResultContext(result));
    }

    function renderJob() {
        const fota = current && current.fota && current.fota.valid ? current.fota : null;
        if (!fota) {
            renderProgress("idle", 0);
            setText("job-source", "");
            renderLastResult(null);
            return;
        }
        renderProgress(fota.Phase, fota.Percent);
        const job = fota.Job || {};
        const kind = dictGet(job, "kind", "");
        const source = dictGet(job, "source", "");
        setText("job-source", kind ? kind + (source ? ": " + source : "") : "");
        renderLastResult(fota.LastResult);
    }

    function modemIndex(path) {
        const n = parseInt(path.substring(path.lastIndexOf("/") + 1), 10);
        return isNaN(n) ? Number.MAX_SAFE_INTEGER : n;
    }

    function modemPaths() {
        if (!modems)
            return [];
        return Object.keys(modems)
                .filter(path => path.indexOf(ROOT + "/") === 0 && modems[path].valid)
                .sort((a, b) => modemIndex(a) - modemIndex(b) || a.localeCompare(b));
    }

    function selectModem(path, chosen) {
        if (current && current.path === path) {
            current.chosen = current.chosen || chosen;
            return;
        }
        const fota = client.proxy(FOTA_IFACE, path);
        current = { path, fota, chosen };
        fota.addEventListener("changed", () => {
            if (current && current.fota === fota)
                renderJob();
        });
        /* Progress and Finished carry the same facts as the properties; taking both keeps the
         * page live even when a PropertiesChanged is coalesced. */
        fota.addEventListener("Progress", (ev, phase, percent) => {
            if (current && current.fota === fota)
                renderProgress(phase, percent);
        });
        fota.addEventListener("Finished", (ev, result) => {
            if (current && current.fota === fota)
                renderLastResult(result);
        });
        fota.wait(() => {
            if (current && current.fota === fota)
                renderJob();
        });
        $("modem-select").value = path;
        renderModem();
        renderJob();
    }

    function updateModems() {
        const paths = modemPaths();
        const select = $("modem-select");
        const options = paths.map(path => {
            const m = modems[path];
            const option = document.createElement("option");
            option.value = path;
            option.textContent = cockpit.format("$0 ($1)", modemIndex(path), m.Port || path);
            return option;
        });
        select.replaceChildren(...options);
        $("modem-select-label").hidden = paths.length < 2;

        if (paths.length === 0) {
            current = null;
            renderModem();
            renderJob();
            return;
        }
        /* Modems appear one by one: until the user picks one, the page follows Modem/0 (or
         * the lowest index), whichever object the bridge happened to report first. */
        const preferred = paths.indexOf(DEFAULT_MODEM) >= 0 ? DEFAULT_MODEM : paths[0];
        if (current && paths.indexOf(current.path) >= 0 &&
            (current.chosen || current.path === preferred)) {
            select.value = current.path;
            renderModem();
            return;
        }
        selectModem(preferred, false);
    }

    function connect() {
        client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        const thisClient = client;
        ownerSeen = false;

        thisClient.addEventListener("close", (ev, options) => {
            if (client !== thisClient)
                return;
            showDaemonStatus(cockpit.format(_("Cannot reach the system bus: $0"),
                                            cockpit.message(options)));
        });
        /* The bridge reports the name's owner; a restarted daemon is a new owner, so the
         * page starts over with a fresh connection and fresh proxies. */
        thisClient.addEventListener("owner", (ev, owner) => {
            if (client !== thisClient)
                return;
            if (!owner) {
                showDaemonStatus(_("The firmware service dfotad is not running " +
                                   "(no owner of org.dfotad1 on the system bus)."));
                /* what the page shows would be stale: drop it until the daemon is back */
                modems = null;
                current = null;
                renderModem();
                renderJob();
                return;
            }
            showDaemonStatus("");
            if (ownerSeen || modems === null) {
                reconnect();
                return;
            }
            ownerSeen = true;
        });

        modems = client.proxies(MODEM_IFACE, ROOT);
        const theseModems = modems;
        const onChange = () => {
            if (modems === theseModems)
                updateModems();
        };
        theseModems.addEventListener("added", onChange);
        theseModems.addEventListener("removed", onChange);
        theseModems.addEventListener("changed", (ev, proxy) => {
            if (modems !== theseModems)
                return;
            if (current && proxy.path === current.path)
                renderModem();
            else
                updateModems();
        });
        theseModems.wait(onChange);
    }

    function reconnect() {
        const old = client;
        client = null;
        modems = null;
        current = null;
        if (old)
            old.close();
        connect();
    }

    function startUpgrade(event) {
        event.preventDefault();
        showError("");
        const url = $("upgrade-url").value;
        const path = current ? current.path : DEFAULT_MODEM;
        const call = $("upgrade-via-host").checked
            ? client.call(path, FOTA_IFACE, "UpgradeViaHost", [url, {}], { type: "sa{sv}" })
            : client.call(path, FOTA_IFACE, "Upgrade", [url], { type: "s" });
        call.catch(ex => showError(describeError(ex)));
    }

    function init() {
        cockpit.translate();
        $("upgrade-form").addEventListener("submit", startUpgrade);
        $("modem-select").addEventListener("change",
                                           event => selectModem(event.target.value, true));
        renderModem();
        renderJob();
        connect();
    }

    if (document.readyState === "loading")
        document.addEventListener("DOMContentLoaded", init);
    else
        init();
}());
