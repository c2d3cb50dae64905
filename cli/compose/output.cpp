// `config` output: the normalised project with its keys in the order `docker compose config`
// prints them (the order of the fields of compose's model), as YAML or JSON; and the config hash.
#include <string_view>

#include "cli/compose/internal.h"
#include "cli/compose/project.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/json.h"

namespace hoist::compose {

namespace detail {

namespace {

struct Order {
  std::string_view pattern;
  std::string_view keys;
};

constexpr Order kOrders[] = {
    {"", "name services networks volumes secrets configs models"},
    {"services.*",
     "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup cpu_count "
     "cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset cpu_shares command configs "
     "container_name credential_spec depends_on deploy device_cgroup_rules devices dns dns_opt dns_search dockerfile "
     "domainname entrypoint provider environment env_file expose extends external_links extra_hosts group_add gpus "
     "hostname healthcheck image init ipc isolation labels label_file links logging log_driver log_opt mem_limit "
     "mem_reservation memswap_limit mem_swappiness mac_address models net network_mode networks oom_kill_disable "
     "oom_score_adj pid pids_limit platform ports privileged pull_policy read_only restart runtime scale secrets "
     "security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits "
     "use_api_socket user userns_mode uts volume_driver volumes volumes_from working_dir pre_start post_start pre_stop"},
    {"services.*.build",
     "context dockerfile dockerfile_inline entitlements args provenance sbom ssh labels cache_from cache_to no_cache "
     "no_cache_filter additional_contexts pull extra_hosts isolation network target secrets shm_size tags ulimits "
     "platforms privileged"},
    {"services.*.depends_on.*", "condition restart required"},
    {"services.*.deploy", "mode replicas labels update_config rollback_config resources restart_policy placement endpoint_mode"},
    {"services.*.deploy.resources", "limits reservations"},
    {"services.*.deploy.resources.limits", "cpus memory pids devices generic_resources"},
    {"services.*.deploy.resources.reservations", "cpus memory pids devices generic_resources"},
    {"services.*.deploy.restart_policy", "condition delay max_attempts window"},
    {"services.*.healthcheck", "test timeout interval retries start_period start_interval disable"},
    {"services.*.logging", "driver options"},
    {"services.*.networks.*",
     "aliases driver_opts gw_priority interface_name ipv4_address ipv6_address link_local_ips mac_address priority"},
    {"services.*.ports[]", "name mode host_ip target published protocol app_protocol"},
    {"services.*.volumes[]", "type source target read_only consistency bind volume tmpfs image"},
    {"services.*.volumes[].bind", "selinux propagation create_host_path recursive"},
    {"services.*.volumes[].volume", "labels nocopy subpath"},
    {"services.*.volumes[].tmpfs", "size mode"},
    {"services.*.secrets[]", "source target uid gid mode"},
    {"services.*.configs[]", "source target uid gid mode"},
    {"services.*.ulimits.*", "soft hard"},
    {"services.*.extends", "file service"},
    {"networks.*", "name driver driver_opts ipam external internal attachable labels enable_ipv4 enable_ipv6"},
    {"networks.*.ipam", "driver config options"},
    {"networks.*.ipam.config[]", "subnet gateway ip_range aux_addresses"},
    {"volumes.*", "name driver driver_opts external labels"},
    {"secrets.*", "name file environment content external labels driver driver_opts template_driver"},
    {"configs.*", "name file environment content external labels driver driver_opts template_driver"},
};

// Levels whose keys are names (their children match "<pattern>.*").
constexpr std::string_view kNamed[] = {"services", "networks", "volumes", "secrets", "configs", "models",
                                       "services.*.depends_on", "services.*.networks", "services.*.ulimits"};

ojson reorder(const json& v, const std::string& pattern) {
  if (v.is_array()) {
    ojson out = ojson::array();
    for (const auto& item : v) out.push_back(reorder(item, pattern + "[]"));
    return out;
  }
  if (!v.is_object()) return ojson(v);
  bool named = false;
  for (auto n : kNamed)
    if (n == pattern) named = true;
  auto child = [&](const std::string& k) {
    if (named) return pattern + ".*";
    return pattern.empty() ? k : pattern + "." + k;
  };
  ojson out = ojson::object();
  std::string_view keys;
  for (const auto& o : kOrders)
    if (o.pattern == pattern) keys = o.keys;
  while (!keys.empty()) {
    auto sp = keys.find(' ');
    std::string k(keys.substr(0, sp));
    keys = sp == std::string_view::npos ? std::string_view() : keys.substr(sp + 1);
    if (v.contains(k)) out[k] = reorder(v[k], child(k));
  }
  for (const auto& [k, item] : v.items())  // the rest (names, x- keys) sorted, as maps print
    if (!out.contains(k)) out[k] = reorder(item, child(k));
  return out;
}

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::string_view special = "-?:,[]{}#&*!|>'\"%@`";
  if (special.find(s[0]) != std::string_view::npos && !(s[0] == '-' && s.size() > 1 && s[1] != ' ' && s[1] != '-' && !std::isdigit(static_cast<unsigned char>(s[1]))))
    return true;
  if (s.front() == ' ' || s.back() == ' ') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  // Would read back as another type: null, a boolean, a number.
  return !plain_reads_as_string(s);
}

std::string scalar(const ojson& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return needs_quotes(s) ? dump_json(nlohmann::json(s)) : s;
  }
  return dump_json(nlohmann::json::parse(v.dump()));
}

void emit(const ojson& v, int indent, std::string& out);

void emit_value_after_key(const ojson& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += "\n";
    emit(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += "\n";
    emit(v, indent, out);  // "- " items at the key's indentation, as yaml.v3 writes them... indented
  } else if (v.is_object()) {
    out += " {}\n";
  } else if (v.is_array()) {
    out += " []\n";
  } else {
    out += " " + scalar(v) + "\n";
  }
}

void emit(const ojson& v, int indent, std::string& out) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [k, item] : v.items()) {
      std::string key = needs_quotes(k) ? dump_json(nlohmann::json(k)) : k;
      // An implicit key is at most 1024 characters: a longer one takes the explicit "? " form.
      if (key.size() > 1000) out += pad + "? " + key + "\n" + pad + ":";
      else out += pad + key + ":";
      if (item.is_array() && !item.empty()) {
        out += "\n";
        emit(item, indent + 2, out);
      } else {
        emit_value_after_key(item, indent, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (item.is_object() && !item.empty()) {
        std::string sub;
        emit(item, indent + 2, sub);
        // The first line of the mapping goes on the dash's line.
        out += pad + "- " + sub.substr(indent + 2);
      } else if (item.is_array() && !item.empty()) {
        out += pad + "-\n";
        emit(item, indent + 2, out);
      } else {
        out += pad + "- " + (item.is_object() ? "{}" : item.is_array() ? "[]" : scalar(item)) + "\n";
      }
    }
  } else {
    out += pad + scalar(v) + "\n";
  }
}

}  // namespace

ojson ordered(const json& project) { return reorder(project, ""); }

std::string emit_yaml(const ojson& v) {
  std::string out;
  emit(v, 0, out);
  return out;
}

}  // namespace detail

std::string Project::to_yaml() const { return detail::emit_yaml(detail::ordered(*model)); }

std::string Project::to_json() const { return detail::ordered(*model).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"; }

std::string Project::config_hash(const std::string& service) const {
  const auto& services = (*model)["services"];
  if (!services.contains(service)) throw Error("no such service: " + service);
  nlohmann::json s = services[service];
  for (const char* k : {"build", "pull_policy", "scale", "depends_on", "profiles"}) s.erase(k);
  if (s.contains("deploy") && s["deploy"].is_object()) s["deploy"].erase("replicas");
  return digest_of(dump_json(s)).hex;
}

}  // namespace hoist::compose
