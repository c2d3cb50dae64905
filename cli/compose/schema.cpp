// The allowed keys of the compose specification's JSON schema (compose-spec.json), level by
// level. Every object of the schema except the few marked open refuses other keys; "x-" keys
// (extensions) are allowed where the schema allows them.
#include <set>
#include <string_view>

#include "cli/compose/internal.h"
#include "common/error.h"

namespace hoist::compose::detail {

namespace {

struct Level {
  std::string_view pattern;  // key path with * for names and [] for list items
  bool extensions;           // x- keys allowed
  std::string_view keys;     // space-separated
};

constexpr Level kLevels[] = {
    {"", true, "configs include models name networks secrets services version volumes"},
    {"include[]", false, "env_file path project_directory"},
    {"services.*", true,
     "annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name "
     "cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec "
     "depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file "
     "environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc "
     "isolation label_file labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit "
     "models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_start "
     "pre_stop privileged profiles provider pull_policy pull_refresh_after read_only restart runtime scale secrets "
     "security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits "
     "use_api_socket user userns_mode uts volumes volumes_from working_dir"},
    {"services.*.develop", true, "watch"},
    {"services.*.develop.watch[]", true, "action exec ignore include initial_sync path target"},
    {"services.*.develop.watch[].exec", true, "command environment privileged user working_dir"},
    {"services.*.deploy", true,
     "endpoint_mode labels mode placement replicas resources restart_policy rollback_config update_config"},
    {"services.*.deploy.rollback_config", true, "delay failure_action max_failure_ratio monitor order parallelism"},
    {"services.*.deploy.update_config", true, "delay failure_action max_failure_ratio monitor order parallelism"},
    {"services.*.deploy.resources", true, "limits reservations"},
    {"services.*.deploy.resources.limits", true, "cpus memory pids"},
    {"services.*.deploy.resources.reservations", true, "cpus devices generic_resources memory"},
    {"services.*.deploy.resources.reservations.generic_resources[]", true, "discrete_resource_spec"},
    {"services.*.deploy.resources.reservations.generic_resources[].discrete_resource_spec", true, "kind value"},
    {"services.*.deploy.resources.reservations.devices[]", true, "capabilities count device_ids driver options"},
    {"services.*.deploy.restart_policy", true, "condition delay max_attempts window"},
    {"services.*.deploy.placement", true, "constraints max_replicas_per_node preferences"},
    {"services.*.deploy.placement.preferences[]", true, "spread"},
    {"services.*.build", true,
     "additional_contexts args cache_from cache_to context dockerfile dockerfile_inline entitlements extra_hosts "
     "isolation labels network no_cache no_cache_filter platforms privileged provenance pull sbom secrets shm_size "
     "ssh tags target ulimits"},
    {"services.*.build.secrets[]", true, "gid mode source target uid"},
    {"services.*.build.ulimits.*", true, "hard soft"},
    {"services.*.blkio_config", false,
     "device_read_bps device_read_iops device_write_bps device_write_iops weight weight_device"},
    {"services.*.blkio_config.device_read_bps[]", false, "path rate"},
    {"services.*.blkio_config.device_read_iops[]", false, "path rate"},
    {"services.*.blkio_config.device_write_bps[]", false, "path rate"},
    {"services.*.blkio_config.device_write_iops[]", false, "path rate"},
    {"services.*.blkio_config.weight_device[]", false, "path weight"},
    {"services.*.configs[]", true, "gid mode source target uid"},
    {"services.*.credential_spec", true, "config file registry"},
    {"services.*.depends_on.*", true, "condition required restart"},
    {"services.*.devices[]", true, "permissions source target"},
    {"services.*.env_file[]", false, "format path required"},
    {"services.*.extends", false, "file service"},
    {"services.*.provider", true, "options type"},
    {"services.*.healthcheck", true, "disable interval retries start_interval start_period test timeout"},
    {"services.*.logging", true, "driver options"},
    {"services.*.models.*", true, "endpoint_var model_var"},
    {"services.*.networks.*", true,
     "aliases driver_opts gw_priority interface_name ipv4_address ipv6_address link_local_ips mac_address priority"},
    {"services.*.ports[]", true, "app_protocol host_ip mode name protocol published target"},
    {"services.*.pre_start[]", true, "command environment image per_replica privileged user working_dir"},
    {"services.*.post_start[]", true, "command environment privileged user working_dir"},
    {"services.*.pre_stop[]", true, "command environment privileged user working_dir"},
    {"services.*.secrets[]", true, "gid mode source target uid"},
    {"services.*.ulimits.*", true, "hard soft"},
    {"services.*.volumes[]", true, "bind consistency image read_only source target tmpfs type volume"},
    {"services.*.volumes[].bind", true, "create_host_path propagation recursive selinux"},
    {"services.*.volumes[].volume", true, "labels nocopy subpath"},
    {"services.*.volumes[].tmpfs", true, "mode size"},
    {"services.*.volumes[].image", true, "subpath"},
    {"models.*", true, "context_size model name runtime_flags"},
    {"networks.*", true, "attachable driver driver_opts enable_ipv4 enable_ipv6 external internal ipam labels name"},
    {"networks.*.ipam", true, "config driver options"},
    {"networks.*.ipam.config[]", true, "aux_addresses gateway ip_range subnet"},
    {"networks.*.external", true, "name"},
    {"volumes.*", true, "driver driver_opts external labels name"},
    {"volumes.*.external", true, "name"},
    {"secrets.*", true, "driver driver_opts environment external file labels name template_driver"},
    {"configs.*", true, "content environment external file labels name template_driver"},
};

// Levels whose values are maps of user-chosen names to objects ("services" → "services.*").
constexpr std::string_view kNamed[] = {"services", "networks", "volumes", "secrets", "configs", "models",
                                       "services.*.depends_on", "services.*.networks", "services.*.ulimits",
                                       "services.*.build.ulimits", "services.*.models"};

const Level* find_level(const std::string& pattern) {
  for (const auto& l : kLevels)
    if (l.pattern == pattern) return &l;
  return nullptr;
}

bool is_named(const std::string& pattern) {
  for (auto n : kNamed)
    if (n == pattern) return true;
  return false;
}

std::string child(const std::string& pattern, std::string_view k) {
  return pattern.empty() ? std::string(k) : pattern + "." + std::string(k);
}

void walk(const json& v, const std::string& pattern, std::vector<std::string>& path) {
  if (is_reset(v)) return;
  if (is_override(v)) return walk(v.begin().value(), pattern, path);
  if (v.is_object()) {
    if (is_named(pattern)) {
      for (const auto& [k, item] : v.items()) {
        if (k.starts_with("x-") && pattern != "services.*.depends_on" && pattern != "services.*.networks") continue;
        // The schema's patternProperties: names of services, networks, volumes, secrets and
        // configs are [a-zA-Z0-9._-]+; any other key is an additional property.
        if (pattern.find('.') == std::string::npos && pattern != "models" &&
            (k.empty() || k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                              std::string::npos))
          throw Error(pattern + " additional properties '" + k + "' not allowed");
        path.push_back(k);
        if (pattern == "services" && !item.is_object() && !is_reset(item) && !is_override(item))
          throw Error(join_path(path) + " must be a mapping");
        walk(item, pattern + ".*", path);
        path.pop_back();
      }
      return;
    }
    const Level* level = find_level(pattern);
    if (!level) return;  // a free-form map (labels, environment, options...)
    std::set<std::string_view> allowed;
    std::string_view keys = level->keys;
    while (!keys.empty()) {
      auto sp = keys.find(' ');
      allowed.insert(keys.substr(0, sp));
      keys = sp == std::string_view::npos ? std::string_view() : keys.substr(sp + 1);
    }
    std::vector<std::string> extra;
    for (const auto& [k, item] : v.items()) {
      if (allowed.count(k)) continue;
      if (level->extensions && k.starts_with("x-")) continue;
      extra.push_back("'" + k + "'");
    }
    if (!extra.empty()) {
      std::string p = path.empty() ? "" : join_path(path) + " ";
      throw Error(p + "additional properties " + [&] {
        std::string s;
        for (std::size_t i = 0; i < extra.size(); ++i) s += (i ? ", " : "") + extra[i];
        return s;
      }() + " not allowed");
    }
    for (const auto& [k, item] : v.items()) {
      path.push_back(k);
      walk(item, child(pattern, k), path);
      path.pop_back();
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      path.push_back(std::to_string(i));
      walk(v[i], pattern + "[]", path);
      path.pop_back();
    }
  }
}

}  // namespace

void check_schema(const json& file) {
  if (!file.is_object()) throw Error("Top-level object must be a mapping");
  for (const char* k : {"services", "networks", "volumes", "secrets", "configs"}) {
    if (file.contains(k) && !file[k].is_null() && !file[k].is_object() && !is_reset(file[k]))
      throw Error(std::string(k) + " must be a mapping");
  }
  if (file.contains("include") && !file["include"].is_null() && !file["include"].is_array())
    throw Error("include must be a array");
  std::vector<std::string> path;
  walk(file, "", path);
}

}  // namespace hoist::compose::detail
