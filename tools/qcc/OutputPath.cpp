#include "tools/qcc/OutputPath.h"

#include "support/MappedFile.h"

#include <dirent.h>
#include <sys/stat.h>

namespace qcc::cli {

Status checkOutputPath(const std::string &path, const std::vector<std::string> &inputs) {
  auto target = checkOutputTarget(path);
  if (!target) return target.status();
  if (target->kind != OutputTarget::Kind::RegularFile) return Status::ok(); // nothing there yet, or a device
  for (const std::string &input : inputs) {
    struct stat st;
    if (::stat(input.c_str(), &st) != 0) continue;
    if (uint64_t(st.st_dev) == target->device && uint64_t(st.st_ino) == target->inode)
      return Status::error(path + ": is the input " + input + "; choose another output");
  }
  return Status::ok();
}

std::vector<std::string> checkpointInputs(const std::string &modelDir) {
  std::vector<std::string> out;
  for (const char *name : {"config.json", "model.safetensors.index.json", "tokenizer.json", "calib.ids"})
    out.push_back(modelDir + "/" + name);
  if (DIR *d = ::opendir(modelDir.c_str())) {
    while (dirent *e = ::readdir(d)) {
      const std::string name = e->d_name;
      const std::string suffix = ".safetensors";
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(modelDir + "/" + name);
    }
    ::closedir(d);
  }
  return out;
}

} // namespace qcc::cli
