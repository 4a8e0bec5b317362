package browsertest

import (
	"fmt"
	"strings"
)

// deadURL is where every outside service Firefox knows of is pointed: port
// 1 on loopback, where nothing listens, so a request fails at once and
// nothing leaves the machine.
const deadURL = "http://127.0.0.1:1/"

// firefoxPrefs is the test profile's user.js: calls on loopback with fake
// media and no prompts, and no traffic to any outside service. Firefox's
// own "recommended automation preferences" (remote.prefs.recommended) add
// more of the same while BiDi is on; these are the ones a test depends on.
var firefoxPrefs = []struct {
	name  string
	value any
}{
	// Media: fake camera (a moving picture) and microphone (a tone), no
	// permission prompt, autoplay with sound.
	{"media.navigator.streams.fake", true},
	{"media.navigator.permission.disabled", true},
	{"media.autoplay.default", 0},
	{"media.autoplay.blocking_policy", 0},
	// ICE on loopback with real addresses, not mDNS ".local" names nobody
	// here resolves.
	{"media.peerconnection.ice.loopback", true},
	{"media.peerconnection.ice.obfuscate_host_addresses", false},
	{"media.peerconnection.ice.link_local", true},
	// No plugin downloads (OpenH264): VP8 is what Parley uses.
	{"media.gmp-manager.url", deadURL},
	{"media.gmp-manager.updateEnabled", false},
	{"media.gmp-gmpopenh264.autoupdate", false},
	{"media.gmp-gmpopenh264.enabled", false},

	// Background pages keep running at full speed (each page is its own
	// window, but be sure).
	{"dom.min_background_timeout_value", 4},
	{"dom.timeout.enable_budget_timer_throttling", false},
	{"browser.tabs.remote.autostart", true},

	// Outside services: updates, telemetry, experiments, safe browsing,
	// captive portal and connectivity checks, remote settings, DNS over
	// HTTPS, prefetching, the new-tab page's feeds.
	{"app.update.disabledForTesting", true},
	{"app.update.auto", false},
	{"app.normandy.enabled", false},
	{"app.normandy.api_url", deadURL},
	{"app.shield.optoutstudies.enabled", false},
	{"messaging-system.rsexperimentloader.enabled", false},
	{"datareporting.policy.dataSubmissionEnabled", false},
	{"datareporting.healthreport.uploadEnabled", false},
	{"toolkit.telemetry.enabled", false},
	{"toolkit.telemetry.unified", false},
	{"toolkit.telemetry.archive.enabled", false},
	{"toolkit.telemetry.server", deadURL},
	{"browser.ping-centre.telemetry", false},
	{"browser.safebrowsing.malware.enabled", false},
	{"browser.safebrowsing.phishing.enabled", false},
	{"browser.safebrowsing.downloads.enabled", false},
	{"browser.safebrowsing.blockedURIs.enabled", false},
	{"browser.safebrowsing.provider.mozilla.updateURL", deadURL},
	{"browser.safebrowsing.provider.google4.updateURL", deadURL},
	{"network.captive-portal-service.enabled", false},
	{"network.connectivity-service.enabled", false},
	{"services.settings.server", deadURL},
	{"network.trr.mode", 5},
	{"network.dns.disablePrefetch", true},
	{"network.prefetch-next", false},
	{"network.http.speculative-parallel-limit", 0},
	{"extensions.update.enabled", false},
	{"extensions.systemAddon.update.enabled", false},
	{"extensions.getAddons.cache.enabled", false},
	{"browser.search.update", false},
	{"browser.region.network.url", ""},
	{"browser.region.update.enabled", false},
	{"geo.provider.network.url", ""},
	{"browser.newtabpage.enabled", false},
	{"browser.newtabpage.activity-stream.feeds.system.topstories", false},
	{"browser.newtabpage.activity-stream.feeds.topsites", false},
	{"browser.topsites.contile.enabled", false},
	{"browser.shell.checkDefaultBrowser", false},
	{"browser.startup.homepage_override.mstone", "ignore"},
	{"browser.aboutwelcome.enabled", false},
	{"startup.homepage_welcome_url", ""},
	{"browser.sessionstore.resume_from_crash", false},
	{"toolkit.startup.max_resumed_crashes", -1},
	{"browser.tabs.warnOnClose", false},
	// Everything not on loopback goes through a proxy that is not there:
	// the catch-all for a service this list missed (Firefox never proxies
	// localhost, network.proxy.allow_hijacking_localhost is off).
	{"network.proxy.type", 1},
	{"network.proxy.http", "127.0.0.1"},
	{"network.proxy.http_port", 1},
	{"network.proxy.ssl", "127.0.0.1"},
	{"network.proxy.ssl_port", 1},
	{"network.proxy.no_proxies_on", "localhost, 127.0.0.1"},
}

// userJS renders prefs as a user.js file.
func userJS(prefs []struct {
	name  string
	value any
}) string {
	var b strings.Builder
	for _, p := range prefs {
		v := fmt.Sprint(p.value)
		if s, ok := p.value.(string); ok {
			v = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", p.name, v)
	}
	return b.String()
}
