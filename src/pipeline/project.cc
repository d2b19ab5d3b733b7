// MLproject files: parsing, parameter resolution, command rendering, and step planning.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

#include "common/util.h"
#include "pipeline/pipeline.h"

namespace ringo::pipeline {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kTypes = {"string", "str", "float", "int", "integer", "path", "uri"};

std::string Where(const YAML::Node& node) {
  if (!node.IsDefined() || node.Mark().line < 0) return "";
  return " (line " + std::to_string(node.Mark().line + 1) + ")";
}

Result<std::string> Scalar(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar())
    return InvalidArgument("MLproject: " + what + " must be a string" + Where(node));
  return node.as<std::string>();
}

// MLflow's docker_env: `image`, `volumes` (a list of "HOST:CONTAINER[:OPTIONS]") and
// `environment` (a list whose items are [NAME, VALUE] pairs or names copied from the host).
Result<DockerEnv> ParseDockerEnv(const YAML::Node& d) {
  if (!d.IsMap() || !d["image"])
    return InvalidArgument("MLproject: docker_env needs an image" + Where(d));
  DockerEnv env;
  ASSIGN_OR_RETURN(env.image, Scalar(d["image"], "docker_env.image"));
  if (env.image.empty()) return InvalidArgument("MLproject: docker_env.image is empty" + Where(d));
  if (const YAML::Node& v = d["volumes"]) {
    if (!v.IsSequence())
      return InvalidArgument("MLproject: docker_env.volumes must be a list" + Where(v));
    for (const auto& item : v) {
      ASSIGN_OR_RETURN(std::string volume, Scalar(item, "each of docker_env.volumes"));
      if (volume.find(':') == std::string::npos) {
        return InvalidArgument("MLproject: docker_env.volumes: '" + volume +
                               "' must be HOST:CONTAINER" + Where(item));
      }
      env.volumes.push_back(volume);
    }
  }
  if (const YAML::Node& e = d["environment"]) {
    if (!e.IsSequence())
      return InvalidArgument("MLproject: docker_env.environment must be a list" + Where(e));
    for (const auto& item : e) {
      if (item.IsScalar()) {
        env.environment.emplace_back(item.as<std::string>(), std::nullopt);
      } else if (item.IsSequence() && item.size() == 2 && item[0].IsScalar() &&
                 item[1].IsScalar()) {
        env.environment.emplace_back(item[0].as<std::string>(), item[1].as<std::string>());
      } else {
        return InvalidArgument(
            "MLproject: each of docker_env.environment must be a NAME or a [NAME, VALUE] pair" +
            Where(item));
      }
      const std::string& name = env.environment.back().first;
      if (name.empty() || name.find('=') != std::string::npos) {
        return InvalidArgument("MLproject: docker_env.environment: bad variable name '" + name +
                               "'" + Where(item));
      }
    }
  }
  return env;
}

Result<Parameter> ParseParameter(const std::string& name, const YAML::Node& node) {
  Parameter p;
  p.name = name;
  if (node.IsScalar()) {
    p.type = node.as<std::string>();
  } else if (node.IsMap()) {
    if (node["type"]) {
      ASSIGN_OR_RETURN(p.type, Scalar(node["type"], "type of parameter '" + name + "'"));
    }
    if (node["default"] && !node["default"].IsNull()) {
      ASSIGN_OR_RETURN(std::string d,
                       Scalar(node["default"], "default of parameter '" + name + "'"));
      p.default_value = d;
    }
  } else if (node.IsNull()) {
    p.type = "string";
  } else {
    return InvalidArgument("MLproject: parameter '" + name + "' must be a type or a mapping" +
                           Where(node));
  }
  if (!kTypes.count(p.type)) {
    return InvalidArgument("MLproject: parameter '" + name + "' has unknown type '" + p.type +
                           "' (expected string, float, int, path or uri)" + Where(node));
  }
  if (p.type == "str") p.type = "string";
  if (p.type == "integer") p.type = "int";
  return p;
}

Result<std::vector<std::string>> StringList(const YAML::Node& node, const std::string& what) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) return out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
    return out;
  }
  if (!node.IsSequence())
    return InvalidArgument("MLproject: " + what + " must be a list" + Where(node));
  for (const auto& item : node) {
    ASSIGN_OR_RETURN(std::string s, Scalar(item, what + " entry"));
    out.push_back(s);
  }
  return out;
}

// A non-negative number field of a step; `what` names it in errors.
Result<double> Number(const YAML::Node& node, const std::string& what) {
  ASSIGN_OR_RETURN(std::string text, Scalar(node, what));
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0) {
    return InvalidArgument("MLproject: " + what + " must be a non-negative number; got '" + text +
                           "'" + Where(node));
  }
  return v;
}

Result<int> Count(const YAML::Node& node, const std::string& what) {
  ASSIGN_OR_RETURN(double v, Number(node, what));
  if (v != std::floor(v) || v > 1e6)
    return InvalidArgument("MLproject: " + what + " must be a whole number" + Where(node));
  return static_cast<int>(v);
}

// The step's `resources:` mapping: cpus, memory, gpus, time, partition.
Status ParseResources(const YAML::Node& node, Step& s) {
  if (!node) return Status::Ok();
  std::string of = " of step '" + s.name + "'";
  if (!node.IsMap()) return InvalidArgument("MLproject: resources" + of + " must be a mapping");
  static const std::set<std::string> kKeys = {"cpus", "memory", "gpus", "time", "partition"};
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!kKeys.count(key)) {
      return InvalidArgument("MLproject: unknown resource '" + key + "'" + of +
                             " (expected cpus, memory, gpus, time or partition)" + Where(kv.first));
    }
  }
  Resources& r = s.resources;
  if (node["cpus"]) {
    ASSIGN_OR_RETURN(r.cpus, Count(node["cpus"], "cpus" + of));
  }
  if (node["gpus"]) {
    ASSIGN_OR_RETURN(r.gpus, Count(node["gpus"], "gpus" + of));
  }
  if (node["memory"]) {
    ASSIGN_OR_RETURN(r.memory, Scalar(node["memory"], "memory" + of));
  }
  if (node["time"]) {
    ASSIGN_OR_RETURN(r.time_limit, Scalar(node["time"], "time" + of));
  }
  if (node["partition"]) {
    ASSIGN_OR_RETURN(r.partition, Scalar(node["partition"], "partition" + of));
  }
  return Status::Ok();
}

// Where a step runs and how: executor, file_transfer, resources, retries, retry_backoff, env.
Status ParseExecution(const YAML::Node& node, Step& s) {
  std::string of = " of step '" + s.name + "'";
  if (node["executor"]) {
    ASSIGN_OR_RETURN(s.executor, Scalar(node["executor"], "executor" + of));
    if (!IsExecutor(s.executor)) {
      return InvalidArgument("MLproject: executor" + of + " must be local, slurm or ray; got '" +
                             s.executor + "'" + Where(node["executor"]));
    }
  }
  if (node["file_transfer"]) {
    ASSIGN_OR_RETURN(s.file_transfer, Scalar(node["file_transfer"], "file_transfer" + of));
    if (!IsFileTransfer(s.file_transfer)) {
      return InvalidArgument("MLproject: file_transfer" + of +
                             " must be shared or artifacts; got '" + s.file_transfer + "'" +
                             Where(node["file_transfer"]));
    }
  }
  RETURN_IF_ERROR(ParseResources(node["resources"], s));
  if (node["retries"]) {
    ASSIGN_OR_RETURN(s.retry.retries, Count(node["retries"], "retries" + of));
  }
  if (node["retry_backoff"]) {
    ASSIGN_OR_RETURN(s.retry.backoff_seconds, Number(node["retry_backoff"], "retry_backoff" + of));
  }
  if (const YAML::Node& env = node["env"]) {
    if (!env.IsMap())
      return InvalidArgument("MLproject: env" + of + " must be a mapping" + Where(env));
    for (const auto& kv : env) {
      std::string key = kv.first.as<std::string>();
      ASSIGN_OR_RETURN(s.env[key], Scalar(kv.second, "env '" + key + "'" + of));
    }
  }
  return Status::Ok();
}

Result<Step> ParseStep(const YAML::Node& node, size_t index) {
  if (!node.IsMap())
    return InvalidArgument("MLproject: step " + std::to_string(index + 1) + " must be a mapping" +
                           Where(node));
  Step s;
  if (!node["name"])
    return InvalidArgument("MLproject: step " + std::to_string(index + 1) + " has no name" +
                           Where(node));
  ASSIGN_OR_RETURN(s.name, Scalar(node["name"], "step name"));
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_-]*");
  if (!std::regex_match(s.name, kName)) {
    return InvalidArgument("MLproject: step name '" + s.name + "' must be an identifier" +
                           Where(node["name"]));
  }
  if (node["project"]) {
    ASSIGN_OR_RETURN(s.project, Scalar(node["project"], "step project"));
  }
  if (node["entry_point"]) {
    ASSIGN_OR_RETURN(s.entry_point, Scalar(node["entry_point"], "step entry_point"));
  }
  if (node["parameters"]) {
    if (!node["parameters"].IsMap()) {
      return InvalidArgument("MLproject: parameters of step '" + s.name + "' must be a mapping" +
                             Where(node["parameters"]));
    }
    for (const auto& kv : node["parameters"]) {
      ASSIGN_OR_RETURN(std::string v, Scalar(kv.second, "parameter '" + kv.first.as<std::string>() +
                                                            "' of step '" + s.name + "'"));
      s.parameters[kv.first.as<std::string>()] = v;
    }
  }
  ASSIGN_OR_RETURN(s.inputs, StringList(node["inputs"], "inputs of step '" + s.name + "'"));
  ASSIGN_OR_RETURN(s.outputs, StringList(node["outputs"], "outputs of step '" + s.name + "'"));
  ASSIGN_OR_RETURN(s.needs, StringList(node["needs"], "needs of step '" + s.name + "'"));
  if (node["cache"]) {
    if (!node["cache"].IsScalar())
      return InvalidArgument("MLproject: cache of step '" + s.name + "' must be true or false");
    std::string c = ToLower(node["cache"].as<std::string>());
    if (c != "true" && c != "false") {
      return InvalidArgument("MLproject: cache of step '" + s.name + "' must be true or false" +
                             Where(node["cache"]));
    }
    s.cache = c == "true";
  }
  RETURN_IF_ERROR(ParseExecution(node, s));
  for (const auto& o : s.outputs) {
    if (!std::regex_match(o, kName)) {
      return InvalidArgument("MLproject: output name '" + o + "' of step '" + s.name +
                             "' must be an identifier");
    }
  }
  return s;
}

// Lines of a text file (a last line without a newline counts).
int CountLines(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  int lines = 0;
  char prev = '\n';
  for (char c; in.get(c); prev = c) {
    if (c == '\n') ++lines;
  }
  return prev == '\n' ? lines : lines + 1;
}

}  // namespace

bool IsExecutor(const std::string& name) {
  return name == "local" || name == "slurm" || name == "ray";
}

bool IsFileTransfer(const std::string& name) { return name == "shared" || name == "artifacts"; }

Result<Project> LoadProject(const fs::path& dir) {
  fs::path file = dir / "MLproject";
  std::error_code ec;
  if (!fs::exists(file, ec)) file = dir / "MLproject.yaml";
  if (!fs::exists(file, ec)) return NotFound("no MLproject file in '" + dir.string() + "'");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::ParserException& e) {
    // An unclosed bracket or quote is noticed at the end of the input, which yaml-cpp marks one
    // line past the last one when the file ends with a newline: name the last line instead.
    int lines = CountLines(file);
    if (e.mark.line >= lines && lines > 0) {
      return InvalidArgument("MLproject: bad YAML at the end of the file (line " +
                             std::to_string(lines) + "): " + e.msg);
    }
    return InvalidArgument("MLproject: bad YAML at line " + std::to_string(e.mark.line + 1) +
                           ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument("MLproject: cannot read '" + file.string() + "': " + e.what());
  }
  if (!root.IsMap()) return InvalidArgument("MLproject: the file must be a YAML mapping");
  Project p;
  p.dir = fs::absolute(dir, ec);
  try {
    if (root["name"]) {
      ASSIGN_OR_RETURN(p.name, Scalar(root["name"], "name"));
    }
    for (const char* env : {"conda_env", "python_env", "docker_env"}) {
      if (root[env]) {
        if (!p.env_kind.empty())
          return InvalidArgument(
              "MLproject: only one of conda_env, python_env, docker_env may be given");
        p.env_kind = env;
      }
    }
    if (p.env_kind == "docker_env") {
      ASSIGN_OR_RETURN(p.docker, ParseDockerEnv(root["docker_env"]));
    }
    const YAML::Node& eps = root["entry_points"];
    if (eps && !eps.IsMap())
      return InvalidArgument("MLproject: entry_points must be a mapping" + Where(eps));
    if (eps) {
      for (const auto& kv : eps) {
        EntryPoint ep;
        ep.name = kv.first.as<std::string>();
        const YAML::Node& e = kv.second;
        if (!e.IsMap())
          return InvalidArgument("MLproject: entry point '" + ep.name + "' must be a mapping" +
                                 Where(e));
        if (e["command"]) {
          ASSIGN_OR_RETURN(ep.command,
                           Scalar(e["command"], "command of entry point '" + ep.name + "'"));
        }
        if (e["parameters"]) {
          if (!e["parameters"].IsMap()) {
            return InvalidArgument("MLproject: parameters of entry point '" + ep.name +
                                   "' must be a mapping" + Where(e["parameters"]));
          }
          for (const auto& pk : e["parameters"]) {
            ASSIGN_OR_RETURN(Parameter param,
                             ParseParameter(pk.first.as<std::string>(), pk.second));
            ep.parameters.push_back(std::move(param));
          }
        }
        p.entry_points[ep.name] = std::move(ep);
      }
    }
    const YAML::Node& steps = root["steps"];
    if (steps) {
      if (!steps.IsSequence())
        return InvalidArgument("MLproject: steps must be a list" + Where(steps));
      std::set<std::string> names;
      for (size_t i = 0; i < steps.size(); ++i) {
        ASSIGN_OR_RETURN(Step s, ParseStep(steps[i], i));
        if (!names.insert(s.name).second)
          return InvalidArgument("MLproject: step '" + s.name + "' is declared twice");
        p.steps.push_back(std::move(s));
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument("MLproject: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (p.steps.empty()) {
    if (p.entry_points.empty()) return InvalidArgument("MLproject: no entry_points and no steps");
    for (const auto& [name, ep] : p.entry_points) {
      if (ep.command.empty())
        return InvalidArgument("MLproject: entry point '" + name + "' has no command");
    }
  }
  return p;
}

Result<std::map<std::string, std::string>> ResolveParameters(
    const EntryPoint& entry, const std::map<std::string, std::string>& given, const fs::path& base,
    std::map<std::string, std::string>* extra) {
  std::map<std::string, std::string> values;
  std::set<std::string> declared;
  for (const Parameter& p : entry.parameters) {
    declared.insert(p.name);
    auto it = given.find(p.name);
    std::string v;
    if (it != given.end()) {
      v = it->second;
    } else if (p.default_value) {
      v = *p.default_value;
    } else {
      return InvalidArgument("missing value for required parameter '" + p.name +
                             "' of entry point '" + entry.name + "' (pass -P " + p.name +
                             "=VALUE)");
    }
    if (p.type == "float") {
      auto d = ParseDouble(v);
      if (!d || std::isnan(*d)) {
        return InvalidArgument("parameter '" + p.name + "' must be a float; got '" + v + "'");
      }
    } else if (p.type == "int") {
      if (!ParseInt64(v))
        return InvalidArgument("parameter '" + p.name + "' must be an integer; got '" + v + "'");
    } else if (p.type == "path" && it != given.end()) {
      // Paths the user passes are relative to where they run; defaults to the project.
      fs::path path(v);
      if (path.is_relative() && v.find("://") == std::string::npos)
        v = (base / path).lexically_normal().string();
    }
    values[p.name] = v;
  }
  if (extra) {
    extra->clear();
    for (const auto& [k, v] : given) {
      if (!declared.count(k)) (*extra)[k] = v;
    }
  }
  return values;
}

std::string ShellQuote(const std::string& value) {
  static const std::regex kSafe("[A-Za-z0-9_@%+=:,./-]+");
  if (!value.empty() && std::regex_match(value, kSafe)) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\"'\"'";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string RenderCommand(const EntryPoint& entry, const std::map<std::string, std::string>& values,
                          const std::map<std::string, std::string>& extra) {
  std::string out;
  const std::string& cmd = entry.command;
  for (size_t i = 0; i < cmd.size(); ++i) {
    if (cmd[i] == '{') {
      size_t close = cmd.find('}', i + 1);
      if (close != std::string::npos) {
        std::string name = cmd.substr(i + 1, close - i - 1);
        auto it = values.find(name);
        if (it != values.end()) {
          out += ShellQuote(it->second);
          i = close;
          continue;
        }
      }
    }
    out += cmd[i];
  }
  // The name is quoted too: -P 'x;rm -rf ~=1' must stay one word, as MLflow's values do.
  for (const auto& [k, v] : extra) out += " " + ShellQuote("--" + k) + " " + ShellQuote(v);
  return out;
}

Result<std::vector<std::vector<std::string>>> PlanSteps(const Project& project) {
  std::map<std::string, const Step*> by_name;
  for (const Step& s : project.steps) by_name[s.name] = &s;
  static const std::regex kRef(
      R"(\{?steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)\}?)");
  std::map<std::string, std::set<std::string>> deps;
  for (const Step& s : project.steps) {
    std::set<std::string>& d = deps[s.name];
    for (const auto& n : s.needs) {
      if (!by_name.count(n))
        return InvalidArgument("step '" + s.name + "' needs unknown step '" + n + "'");
      d.insert(n);
    }
    std::vector<std::string> texts = s.inputs;
    for (const auto& [k, v] : s.parameters) texts.push_back(v);
    for (const auto& t : texts) {
      for (std::sregex_iterator it(t.begin(), t.end(), kRef), end; it != end; ++it) {
        std::string step = (*it)[1], output = (*it)[2];
        auto found = by_name.find(step);
        if (found == by_name.end())
          return InvalidArgument("step '" + s.name + "' refers to unknown step '" + step + "'");
        const auto& outs = found->second->outputs;
        if (std::find(outs.begin(), outs.end(), output) == outs.end()) {
          return InvalidArgument("step '" + s.name + "' refers to output '" + output +
                                 "' that step '" + step + "' does not declare");
        }
        if (step == s.name)
          return InvalidArgument("step '" + s.name + "' refers to its own output");
        d.insert(step);
      }
    }
  }
  // Kahn's algorithm by levels, keeping declaration order within a level.
  std::vector<std::vector<std::string>> levels;
  std::set<std::string> done;
  while (done.size() < project.steps.size()) {
    std::vector<std::string> level;
    for (const Step& s : project.steps) {
      if (done.count(s.name)) continue;
      bool ready = true;
      for (const auto& d : deps[s.name]) ready &= done.count(d) > 0;
      if (ready) level.push_back(s.name);
    }
    if (level.empty()) {
      std::string cycle;
      for (const Step& s : project.steps) {
        if (!done.count(s.name)) cycle += (cycle.empty() ? "" : ", ") + s.name;
      }
      return InvalidArgument("steps depend on each other in a cycle: " + cycle);
    }
    for (const auto& n : level) done.insert(n);
    levels.push_back(std::move(level));
  }
  return levels;
}

}  // namespace ringo::pipeline
