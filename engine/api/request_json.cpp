#include "engine/api/request_json.h"

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

struct Schema;

// How a field's value is made: a plain value, a struct, a list of structs, or a map whose values
// are structs. Only struct keys are canonicalised.
enum class Kind { Value, Struct, StructList, StructMap };

struct Field {
  const char* name;
  Kind kind = Kind::Value;
  const Schema* sub = nullptr;
};

struct Schema {
  std::vector<Field> fields;
  Schema(std::initializer_list<Field> f) : fields(f) {}
  Schema(std::initializer_list<const Schema*> bases, std::initializer_list<Field> f) {
    for (auto* b : bases) fields.insert(fields.end(), b->fields.begin(), b->fields.end());
    fields.insert(fields.end(), f.begin(), f.end());
  }
};

Field value(const char* n) { return {n}; }
Field strukt(const char* n, const Schema& s) { return {n, Kind::Struct, &s}; }
Field list(const char* n, const Schema& s) { return {n, Kind::StructList, &s}; }
Field map_of(const char* n, const Schema& s) { return {n, Kind::StructMap, &s}; }

// The field names are the JSON names of moby's api/types structs.
const Schema kHealth{value("Test"), value("Interval"), value("Timeout"), value("StartPeriod"),
                     value("StartInterval"), value("Retries")};
const Schema kContainerConfig{
    value("Hostname"), value("Domainname"), value("User"), value("AttachStdin"), value("AttachStdout"),
    value("AttachStderr"), value("ExposedPorts"), value("Tty"), value("OpenStdin"), value("StdinOnce"),
    value("Env"), value("Cmd"), strukt("Healthcheck", kHealth), value("ArgsEscaped"), value("Image"),
    value("Volumes"), value("WorkingDir"), value("Entrypoint"), value("NetworkDisabled"), value("MacAddress"),
    value("OnBuild"), value("Labels"), value("StopSignal"), value("StopTimeout"), value("Shell")};
const Schema kWeightDevice{value("Path"), value("Weight")};
const Schema kThrottleDevice{value("Path"), value("Rate")};
const Schema kDeviceMapping{value("PathOnHost"), value("PathInContainer"), value("CgroupPermissions")};
const Schema kDeviceRequest{value("Driver"), value("Count"), value("DeviceIDs"), value("Capabilities"),
                            value("Options")};
const Schema kUlimit{value("Name"), value("Hard"), value("Soft")};
const Schema kResources{
    value("CpuShares"), value("Memory"), value("NanoCpus"), value("CgroupParent"), value("BlkioWeight"),
    list("BlkioWeightDevice", kWeightDevice), list("BlkioDeviceReadBps", kThrottleDevice),
    list("BlkioDeviceWriteBps", kThrottleDevice), list("BlkioDeviceReadIOps", kThrottleDevice),
    list("BlkioDeviceWriteIOps", kThrottleDevice), value("CpuPeriod"), value("CpuQuota"),
    value("CpuRealtimePeriod"), value("CpuRealtimeRuntime"), value("CpusetCpus"), value("CpusetMems"),
    list("Devices", kDeviceMapping), value("DeviceCgroupRules"), list("DeviceRequests", kDeviceRequest),
    value("KernelMemory"), value("KernelMemoryTCP"), value("MemoryReservation"), value("MemorySwap"),
    value("MemorySwappiness"), value("OomKillDisable"), value("PidsLimit"), list("Ulimits", kUlimit),
    value("CpuCount"), value("CpuPercent"), value("IOMaximumIOps"), value("IOMaximumBandwidth")};
const Schema kRestartPolicy{value("Name"), value("MaximumRetryCount")};
const Schema kLogConfig{value("Type"), value("Config")};
const Schema kPortBinding{value("HostIp"), value("HostPort")};
const Schema kDriverConfig{value("Name"), value("Options")};
const Schema kBindOptions{value("Propagation"), value("NonRecursive"), value("CreateMountpoint"),
                          value("ReadOnlyNonRecursive"), value("ReadOnlyForceRecursive")};
const Schema kVolumeOptions{value("NoCopy"), value("Labels"), value("Subpath"), strukt("DriverConfig", kDriverConfig)};
const Schema kTmpfsOptions{value("SizeBytes"), value("Mode"), value("Options")};
const Schema kMount{value("Type"), value("Source"), value("Target"), value("ReadOnly"), value("Consistency"),
                    strukt("BindOptions", kBindOptions), strukt("VolumeOptions", kVolumeOptions),
                    strukt("TmpfsOptions", kTmpfsOptions)};
// PortBindings is a map of lists of PortBinding: its values are handled in canonicalize().
const Schema kHostConfig{
    {&kResources},
    {value("Binds"), value("ContainerIDFile"), strukt("LogConfig", kLogConfig), value("NetworkMode"),
     map_of("PortBindings", kPortBinding), strukt("RestartPolicy", kRestartPolicy), value("AutoRemove"),
     value("VolumeDriver"), value("VolumesFrom"), value("ConsoleSize"), value("Annotations"), value("CapAdd"),
     value("CapDrop"), value("CgroupnsMode"), value("Dns"), value("DnsOptions"), value("DnsSearch"),
     value("ExtraHosts"), value("GroupAdd"), value("IpcMode"), value("Cgroup"), value("Links"),
     value("OomScoreAdj"), value("PidMode"), value("Privileged"), value("PublishAllPorts"),
     value("ReadonlyRootfs"), value("SecurityOpt"), value("StorageOpt"), value("Tmpfs"), value("UTSMode"),
     value("UsernsMode"), value("ShmSize"), value("Sysctls"), value("Runtime"), value("Isolation"),
     list("Mounts", kMount), value("MaskedPaths"), value("ReadonlyPaths"), value("Init")}};
const Schema kIpamConfig{value("IPv4Address"), value("IPv6Address"), value("LinkLocalIPs")};
const Schema kEndpointSettings{
    strukt("IPAMConfig", kIpamConfig), value("Links"), value("Aliases"), value("MacAddress"), value("DriverOpts"),
    value("NetworkID"), value("EndpointID"), value("Gateway"), value("IPAddress"), value("IPPrefixLen"),
    value("IPv6Gateway"), value("GlobalIPv6Address"), value("GlobalIPv6PrefixLen"), value("DNSNames")};
const Schema kNetworkingConfig{map_of("EndpointsConfig", kEndpointSettings)};
const Schema kContainerCreate{{&kContainerConfig},
                              {strukt("HostConfig", kHostConfig), strukt("NetworkingConfig", kNetworkingConfig)}};
const Schema kContainerUpdate{{&kResources}, {strukt("RestartPolicy", kRestartPolicy)}};
const Schema kExecCreate{value("User"), value("Privileged"), value("Tty"), value("ConsoleSize"),
                         value("AttachStdin"), value("AttachStderr"), value("AttachStdout"), value("Detach"),
                         value("DetachKeys"), value("Env"), value("WorkingDir"), value("Cmd")};
const Schema kExecStart{value("Detach"), value("Tty"), value("ConsoleSize")};
const Schema kAuthConfig{value("username"), value("password"), value("auth"), value("email"),
                         value("serveraddress"), value("identitytoken"), value("registrytoken")};
const Schema kIpamPool{value("Subnet"), value("IPRange"), value("Gateway"), value("AuxiliaryAddresses")};
const Schema kIpam{value("Driver"), list("Config", kIpamPool), value("Options")};
const Schema kNetworkCreate{value("Name"), value("CheckDuplicate"), value("Driver"), value("Scope"),
                            value("EnableIPv6"), strukt("IPAM", kIpam), value("Internal"), value("Attachable"),
                            value("Ingress"), value("ConfigOnly"), value("ConfigFrom"), value("Options"),
                            value("Labels")};
const Schema kNetworkConnect{value("Container"), strukt("EndpointConfig", kEndpointSettings), value("Force")};
const Schema kVolumeCreate{value("Name"), value("Driver"), value("DriverOpts"), value("Labels"),
                           value("ClusterVolumeSpec")};

const Schema& schema_of(BodyType t) {
  switch (t) {
    case BodyType::ContainerCreate: return kContainerCreate;
    case BodyType::ContainerUpdate: return kContainerUpdate;
    case BodyType::ExecCreate: return kExecCreate;
    case BodyType::ExecStart: return kExecStart;
    case BodyType::AuthConfig: return kAuthConfig;
    case BodyType::NetworkCreate: return kNetworkCreate;
    case BodyType::NetworkConnect: return kNetworkConnect;
    case BodyType::VolumeCreate: return kVolumeCreate;
  }
  return kContainerCreate;
}

// Go's case folding for field names (ASCII; the JSON names above are ASCII).
bool fold_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

void canonicalize(json& j, const Schema& s);

void canonicalize_value(json& v, const Field& f) {
  switch (f.kind) {
    case Kind::Value: return;
    case Kind::Struct: canonicalize(v, *f.sub); return;
    case Kind::StructList:
      if (v.is_array())
        for (auto& x : v) canonicalize(x, *f.sub);
      return;
    case Kind::StructMap:
      if (!v.is_object()) return;
      for (auto& [k, x] : v.items()) {
        if (x.is_array())  // PortBindings: {"80/tcp": [{"HostPort": "8080"}]}
          for (auto& y : x) canonicalize(y, *f.sub);
        else
          canonicalize(x, *f.sub);
      }
      return;
  }
}

// The schema's nesting is fixed (at most 5 levels), so this recursion does not depend on input.
void canonicalize(json& j, const Schema& s) {
  if (!j.is_object()) return;
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  for (auto& k : keys) {
    const Field* exact = nullptr;
    const Field* folded = nullptr;
    for (auto& f : s.fields) {
      if (k == f.name) { exact = &f; break; }
      if (!folded && fold_equal(k, f.name)) folded = &f;
    }
    if (!exact && folded) {
      // An exact key wins over a case-insensitive one (Go looks for the exact name first).
      if (!j.contains(folded->name)) j[folded->name] = std::move(j[k]);
      j.erase(k);
    }
  }
  for (auto& f : s.fields) {
    auto it = j.find(f.name);
    if (it == j.end()) continue;
    // Go leaves a field it reads `null` for as it was (the zero value): the same as no key at all
    // (docker-compose 1.29 sends {"Healthcheck": {"StartPeriod": null, ...}}).
    if (it->is_null())
      j.erase(it);
    else
      canonicalize_value(*it, f);
  }
}

}  // namespace

void canonicalize_keys(json& j, BodyType type) { canonicalize(j, schema_of(type)); }

json decode_json(std::string_view text, BodyType type, bool empty_ok) {
  bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) {
    if (empty_ok) return json::object();
    throw InvalidArgument("invalid JSON: EOF");
  }
  json j = parse_json(text, "");
  // Go decodes `null` into a struct as nothing at all (docker 20.10's commit sends it).
  if (j.is_null() && empty_ok) return json::object();
  if (!j.is_object()) throw InvalidArgument("invalid JSON: expected an object, not " + std::string(j.type_name()));
  canonicalize_keys(j, type);
  return j;
}

json decode_body(Request& req, BodyType type, bool empty_ok) { return decode_json(req.body(), type, empty_ok); }

}  // namespace hoist::engine
