// The build's live view (cli/build_progress.h): a recorded classic-builder stream fed with a fake
// clock, the frames and the final text asserted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/build_progress.h"

namespace {

using hoist::cli::BuildProgress;

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A line of `width - 1` columns: `left`, spaces, `right`.
std::string row(const std::string& left, const std::string& right, int width = 60) {
  return left + std::string(static_cast<std::size_t>(width - 1) - left.size() - right.size(), ' ') + right;
}

TEST(BuildProgress, StepsCachedRunningAndTheirOutput) {
  BuildProgress p(60);
  p.stream("Sending build context to Docker daemon  2.048kB\n", 0.2);
  p.stream("Step 1/4 : FROM bb:1", 0.3);
  p.stream("\n", 0.3);
  p.stream(" ---> 0123456789ab\n", 0.3);
  p.stream("Step 2/4 : COPY . /ctx/\n ---> Using cache\n ---> 111111111111\n", 0.4);
  p.stream("Step 3/4 : RUN make\n ---> Running in abcdef012345\n", 0.5);
  for (int i = 1; i <= 8; ++i) p.stream("line " + std::to_string(i) + "\n", 0.6);
  p.stream("half a li", 0.6);

  std::vector<std::string> f = p.frame(1.75, false);
  std::vector<std::string> want = {
      "[+] Building 1.8s (2/4)",
      row(" => [internal] load build context", "0.2s"),
      " => => transferring context: 2.048kB",
      row(" => [1/4] FROM bb:1", "0.0s"),
      row(" => CACHED [2/4] COPY . /ctx/", "0.0s"),
      row(" => [3/4] RUN make", "1.2s"),
      " => => # line 3", " => => # line 4", " => => # line 5", " => => # line 6", " => => # line 7",
      " => => # line 8",
  };
  EXPECT_EQ(join(f), join(want));

  // The output lines are dimmed in colour.
  std::vector<std::string> colored = p.frame(1.75, true);
  EXPECT_EQ(colored.back(), "\x1b[2m => => # line 8\x1b[0m");

  p.stream("ne\n Removing intermediate container abcdef012345\n", 2.0);
  p.stream("Removing intermediate container abcdef012345\n ---> 222222222222\n", 2.0);
  p.stream("Step 4/4 : CMD [\"sh\"]\n ---> Running in 333\n ---> 444444444444\n", 2.1);
  p.stream("Successfully built 444444444444\nSuccessfully tagged bc:1\n", 2.2);
  p.done(2.3);
  std::vector<std::string> fin = p.final_frame(9, false);
  want = {
      "[+] Building 2.3s (4/4) FINISHED",
      row(" => [internal] load build context", "0.2s"),
      " => => transferring context: 2.048kB",
      row(" => [1/4] FROM bb:1", "0.0s"),
      row(" => CACHED [2/4] COPY . /ctx/", "0.0s"),
      row(" => [3/4] RUN make", "1.5s"),
      row(" => [4/4] CMD [\"sh\"]", "0.0s"),
      row(" => exporting to image", "0.0s"),
      " => => writing image 444444444444",
      " => => naming to bc:1",
  };
  EXPECT_EQ(join(fin), join(want));
}

TEST(BuildProgress, ContextUploadRunsUntilSent) {
  BuildProgress p(60);
  p.context_started(0.1);
  std::vector<std::string> f = p.frame(1.5, false);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1], row(" => [internal] load build context", "1.4s"));
  p.stream("Sending build context to Docker daemon  1.5GB\n", 2.1);
  f = p.frame(3, false);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1], row(" => [internal] load build context", "2.0s"));
  EXPECT_EQ(f[2], " => => transferring context: 1.5GB");
}

TEST(BuildProgress, StagesAreNamed) {
  BuildProgress p(80);
  p.stream("Step 1/5 : ARG V=1\n", 0);
  p.stream("Step 2/5 : FROM bb:1 AS build\n ---> aaa\n", 0);
  p.stream("Step 3/5 : RUN true\n ---> bbb\n", 0);
  p.stream("Step 4/5 : FROM bb:1\n ---> aaa\n", 0);
  p.stream("Step 5/5 : COPY --from=build /x /x\n", 0);
  std::string f = join(p.frame(0, false));
  EXPECT_NE(f.find(" => [1/5] ARG V=1 "), std::string::npos) << f;
  EXPECT_NE(f.find(" => [build 2/5] FROM bb:1 AS build "), std::string::npos) << f;
  EXPECT_NE(f.find(" => [build 3/5] RUN true "), std::string::npos) << f;
  EXPECT_NE(f.find(" => [stage-1 4/5] FROM bb:1 "), std::string::npos) << f;
  EXPECT_NE(f.find(" => [stage-1 5/5] COPY --from=build /x /x "), std::string::npos) << f;
  EXPECT_EQ(f.substr(0, f.find('\n')), "[+] Building 0.0s (4/5)");
}

TEST(BuildProgress, FailureShowsTheStepsWholeOutput) {
  BuildProgress p(60);
  p.stream("Step 1/2 : FROM bb:1\n ---> aaa\nStep 2/2 : RUN for i in 1 2 3 4 5 6 7; do echo $i; done; exit 7\n", 1);
  p.stream(" ---> Running in 0123\n", 1);
  for (int i = 1; i <= 7; ++i) p.stream(std::to_string(i) + "\n", 1.5);
  p.error("The command '/bin/sh -c exit 7' returned a non-zero code: 7", 2);
  std::vector<std::string> fin = p.final_frame(5, false);
  std::vector<std::string> want = {
      "[+] Building 2.0s (2/2)",
      row(" => [1/2] FROM bb:1", "0.0s"),
      row(" => ERROR [2/2] RUN for i in 1 2 3 4 5 6 7; do echo $i", "1.0s"),
      "------",
      " > [2/2] RUN for i in 1 2 3 4 5 6 7; do echo $i; done; exit 7:",
      "1", "2", "3", "4", "5", "6", "7",
      "------",
  };
  EXPECT_EQ(join(fin), join(want));
  EXPECT_EQ(p.final_frame(5, true)[2], "\x1b[31m" + want[2] + "\x1b[0m");
}

TEST(BuildProgress, LinesFitTheTerminal) {
  BuildProgress p(30, 6);
  p.stream("Step 1/1 : RUN echo a very long command line indeed\n", 0);
  p.stream("\x1b[31mred\x1b[0m\ttab\rover written\r\n", 0);
  p.stream("caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9\n", 0);
  for (int i = 0; i < 2; ++i) p.stream("x\n", 0);
  p.stream("\x1b[0m\n", 0);  // a line of escapes alone is no line
  std::vector<std::string> f = p.frame(12.34, false);
  // The header and the newest lines that fit in 6 rows less one.
  ASSERT_EQ(f.size(), 5u) << join(f);
  EXPECT_EQ(f[0], "[+] Building 12.3s (0/1)");
  EXPECT_EQ(f[1], " => => # over written");
  // 29 columns: the é counted as one.
  EXPECT_EQ(f[2], " => => # caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 ");
  EXPECT_EQ(f[4], " => => # x");
  p.set_size(30, 0);
  f = p.frame(12.34, false);
  EXPECT_EQ(f[1], " => [1/1] RUN echo a ve 12.3s");
  EXPECT_EQ(f[1].size(), 29u);
}

TEST(BuildProgress, PullProgressReplacesItsLine) {
  BuildProgress p(80);
  p.stream("Step 1/1 : FROM reg/img:1\n", 0);
  p.status("1", "Pulling from img", "", 0);
  p.status("abc", "Downloading", "[=>   ] 1MB/5MB", 0);
  p.status("abc", "Downloading", "[===> ] 3MB/5MB", 0);
  p.status("abc", "Pull complete", "", 0);
  std::string f = join(p.frame(0, false));
  EXPECT_NE(f.find(" => => # 1: Pulling from img\n => => # abc: Downloading [===> ] 3MB/5MB\n"
                   " => => # abc: Pull complete\n"),
            std::string::npos)
      << f;
  EXPECT_EQ(f.find("1MB/5MB"), std::string::npos) << f;
}

TEST(BuildProgress, WarningsComeAtTheEnd) {
  BuildProgress p(80);
  p.stream("Step 1/1 : FROM bb:1\n ---> aaa\n", 0);
  p.stream("[Warning] One or more build-args [X] were not consumed\n", 0);
  p.stream("Successfully built aaa\n", 0);
  p.done(0.5);
  auto fin = p.final_frame(1, false);
  EXPECT_EQ(fin.back(), "[Warning] One or more build-args [X] were not consumed");
}

}  // namespace
