// The Dockerfile parser: directives, continuations, comments, forms, heredocs, every instruction's
// arguments and flags, and the errors with Docker's words. Messages and results marked "dockerd"
// were taken from dockerd 20.10's classic builder (DOCKER_BUILDKIT=0 docker build) on the same
// Dockerfile; the others follow BuildKit's parser (heredocs, newer flags), which dockerd 20.10 does
// not have.
#include "builder/instructions.h"
#include "builder/parser.h"

#include <gtest/gtest.h>

using namespace hoist::builder;

namespace {

std::string parse_error(const std::string& text) {
  try {
    parse_stages(text);
  } catch (const DockerfileError& e) {
    return e.what();
  }
  return "(no error)";
}

const Instruction& only(const Dockerfile& df) {
  EXPECT_EQ(df.stages.size(), 1u);
  EXPECT_EQ(df.stages[0].commands.size(), 1u);
  return df.stages[0].commands.at(0);
}

Instruction one(const std::string& line) {
  auto df = parse_stages("FROM busybox\n" + line + "\n");
  return only(df);
}

using V = std::vector<std::string>;

}  // namespace

TEST(DockerfileParser, LinesCommentsAndContinuations) {
  // dockerd: "RUN echo a     b   c" (the comment inside the continuation is dropped, the empty
  // line skipped with a warning, the leading blanks of continued lines kept).
  auto df = parse_stages("FROM busybox\nRUN echo a \\\n# comment inside\n    b \\\n\n  c\n");
  auto& run = only(df);
  EXPECT_EQ(run.cmdline, V{"echo a     b   c"});
  EXPECT_EQ(run.original, "RUN echo a     b   c");
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.end_line, 6);
  ASSERT_EQ(df.warnings.size(), 2u);
  EXPECT_EQ(df.warnings[0], "[WARNING]: Empty continuation line found in:\n    RUN echo a     b   c");
  EXPECT_EQ(df.warnings[1], "[WARNING]: Empty continuation lines will become errors in a future release.");
  // An escaped escape at the end is no continuation (dockerd: line 3 is then an instruction).
  EXPECT_EQ(parse_error("FROM busybox\nRUN echo a \\\\\n  b\n"), "dockerfile parse error line 3: unknown instruction: B");
  // A byte-order mark, CRLF line ends, indented instructions, blank lines.
  df = parse_stages("\xEF\xBB\xBF" "FROM busybox\r\n\r\n   run echo \\\r\n  hi\r\n");
  EXPECT_EQ(only(df).cmdline, V{"echo   hi"});
  EXPECT_EQ(only(df).keyword, "run");
  // A continuation at the end of the file ends the instruction.
  EXPECT_EQ(one("RUN echo \\").cmdline, V{"echo"});
}

TEST(DockerfileParser, Directives) {
  // dockerd: with escape=` a backslash is an ordinary character.
  auto df = parse_stages("# escape=`\nFROM busybox\nRUN echo a `\n  b\nENV P=C:\\\\x\n");
  EXPECT_EQ(df.escape, '`');
  EXPECT_EQ(df.stages[0].commands[0].cmdline, V{"echo a   b"});
  EXPECT_EQ(df.stages[0].commands[1].pairs[0].value, "C:\\\\x");
  df = parse_stages("#syntax = docker/dockerfile:1.4\n# check=skip=all;error=true\n#ESCAPE=\\\nFROM x\n");
  ASSERT_EQ(df.notes.size(), 2u);
  EXPECT_EQ(df.notes[0],
            "Dockerfile:1: the syntax directive is ignored: Hoist builds with its own Dockerfile frontend "
            "(docker/dockerfile:1.4)");
  EXPECT_EQ(df.notes[1], "Dockerfile:2: the check directive is ignored: Hoist runs no build checks");
  // A directive after anything else is a comment.
  df = parse_stages("# a comment\n# escape=`\nFROM x\nRUN a \\\n b\n");
  EXPECT_EQ(df.escape, '\\');
  df = parse_stages("\n# escape=`\nFROM x\n");
  EXPECT_EQ(df.escape, '\\');
  // dockerd's errors.
  EXPECT_EQ(parse_error("# escape=x\nFROM busybox\n"), "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\");
  EXPECT_EQ(parse_error("# escape=`\n# escape=\\\nFROM busybox\n"),
            "failed to parse Dockerfile: only one escape parser directive can be used");
  // Only blanks after "=": Go's regexp takes the last one as the value.
  EXPECT_EQ(parse_error("# escape=  \nFROM busybox\n"), "failed to parse Dockerfile: invalid escape token ' ' does not match ` or \\");
  EXPECT_EQ(parse_error("# check=bogus\nFROM x\n"),
            "failed to parse Dockerfile: failed to parse check options: invalid check option \"bogus\"");
  EXPECT_EQ(parse_error("# check=error=maybe\nFROM x\n"),
            "failed to parse Dockerfile: failed to parse check options: failed to parse check option \"error=maybe\": "
            "strconv.ParseBool: parsing \"maybe\": invalid syntax");
}

TEST(DockerfileParser, EmptyFiles) {
  // dockerd: "failed to parse Dockerfile: file with no instructions" for comments only.
  EXPECT_EQ(parse_error("# comment\n\n   \n"), "failed to parse Dockerfile: file with no instructions");
  EXPECT_EQ(parse_error(""), "failed to parse Dockerfile: file with no instructions");
  // dockerd: "no build stage in current context" for an instruction before FROM.
  EXPECT_EQ(parse_error("RUN true\nFROM busybox\n"), "no build stage in current context");
  auto df = parse_stages("ARG A=1\nARG B\nFROM x\n");
  EXPECT_EQ(df.meta_args.size(), 2u);
  EXPECT_EQ(df.stages.size(), 1u);
}

TEST(DockerfileParser, JsonAndShellForms) {
  auto cmd = one("CMD [\"a\", \"b c\"]");
  EXPECT_FALSE(cmd.prepend_shell);
  EXPECT_EQ(cmd.cmdline, (V{"a", "b c"}));
  // dockerd: an array that is not valid JSON is the shell form.
  cmd = one("CMD [\"a\", ]");
  EXPECT_TRUE(cmd.prepend_shell);
  EXPECT_EQ(cmd.cmdline, V{"[\"a\", ]"});
  EXPECT_EQ(one("ENTRYPOINT [\"x\" ,\"y\"]").cmdline, (V{"x", "y"}));
  EXPECT_EQ(one("RUN [\"a\\u00e9\", \"\\\"q\\\"\"]").cmdline, (V{"a\xC3\xA9", "\"q\""}));
  EXPECT_TRUE(one("CMD []").cmdline.empty());
  EXPECT_FALSE(one("CMD []").prepend_shell);
  EXPECT_TRUE(one("CMD").prepend_shell);
  // dockerd: JSON holding anything but strings is refused.
  EXPECT_EQ(parse_error("FROM busybox\nCMD [1]\n"),
            "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only");
  EXPECT_EQ(parse_error("FROM busybox\nRUN [\"a\", [\"b\"]]\n"),
            "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only");
  // COPY's JSON form allows blanks in paths.
  auto copy = one("COPY [\"a b\", \"/c d/\"]");
  EXPECT_EQ(copy.sources, V{"a b"});
  EXPECT_EQ(copy.dest, "/c d/");
  // Deep nesting is no command and no crash.
  EXPECT_TRUE(one("RUN " + std::string(2000, '[')).prepend_shell);
}

TEST(DockerfileParser, EnvLabelArgForms) {
  // dockerd: ENV X="q\"r" Y='s t' Z=a\\b → X=q"r, Y=s t, Z=a\b (quotes removed later, by the
  // evaluator's lexer; the parser keeps them).
  auto env = one("ENV X=\"q\\\"r\" Y='s t' Z=a\\\\b");
  ASSERT_EQ(env.pairs.size(), 3u);
  EXPECT_EQ(env.pairs[0].key, "X");
  EXPECT_EQ(env.pairs[0].value, "\"q\\\"r\"");
  EXPECT_EQ(env.pairs[1].value, "'s t'");
  EXPECT_FALSE(env.pairs[0].legacy);
  // The old form: the rest of the line is the value.
  env = one("ENV OLD old style  value");
  ASSERT_EQ(env.pairs.size(), 1u);
  EXPECT_EQ(env.pairs[0].key, "OLD");
  EXPECT_EQ(env.pairs[0].value, "old style  value");
  EXPECT_TRUE(env.pairs[0].legacy);
  auto label = one("LABEL \"a b\"=\"c d\" e=f\\ g");
  ASSERT_EQ(label.pairs.size(), 2u);
  EXPECT_EQ(label.pairs[0].key, "\"a b\"");
  EXPECT_EQ(label.pairs[1].value, "f\\ g");
  label = one("LABEL oldlabel some value");
  EXPECT_EQ(label.pairs[0].value, "some value");
  auto arg = one("ARG A=1 B C= D=\"x y\"");
  ASSERT_EQ(arg.args.size(), 4u);
  EXPECT_EQ(arg.args[0].key, "A");
  EXPECT_EQ(*arg.args[0].value, "1");
  EXPECT_FALSE(arg.args[1].value.has_value());
  EXPECT_EQ(*arg.args[2].value, "");
  EXPECT_EQ(*arg.args[3].value, "\"x y\"");
  // dockerd's errors.
  EXPECT_EQ(parse_error("FROM busybox\nENV A\n"), "failed to parse Dockerfile: ENV must have two arguments");
  EXPECT_EQ(parse_error("FROM busybox\nLABEL e=f\\\\ g\n"),
            "failed to parse Dockerfile: Syntax error - can't find = in \"g\". Must be of the form: name=value");
  EXPECT_EQ(parse_error("FROM busybox\nLABEL\n"), "dockerfile parse error line 2: LABEL requires at least one argument");
  EXPECT_EQ(parse_error("FROM busybox\nENV =x\n"), "dockerfile parse error line 2: ENV names can not be blank");
  EXPECT_EQ(parse_error("FROM busybox\nARG =x\n"), "dockerfile parse error line 2: ARG names can not be blank");
  EXPECT_EQ(parse_error("FROM busybox\nARG\n"), "dockerfile parse error line 2: ARG requires at least one argument");
}

TEST(DockerfileParser, Instructions) {
  auto df = parse_stages(
      "FROM --platform=linux/amd64 busybox:1 AS Build\n"
      "MAINTAINER Jane <j@x>\n"
      "EXPOSE 443/udp 80 8000-8001\n"
      "USER nobody:nogroup\n"
      "WORKDIR /w x\n"
      "VOLUME /v1 /v2\n"
      "VOLUME [\"/v3\"]\n"
      "STOPSIGNAL SIGTERM\n"
      "SHELL [\"/bin/bash\", \"-c\"]\n"
      "ONBUILD   run   echo  \"x\"   \n"
      "HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1500ms --start-interval=2s --retries=3 CMD wget -q x\n"
      "HEALTHCHECK NONE\n"
      "FROM build\n");
  ASSERT_EQ(df.stages.size(), 2u);
  auto& s = df.stages[0];
  EXPECT_EQ(s.name, "build");
  EXPECT_EQ(s.base, "busybox:1");
  EXPECT_EQ(s.platform, "linux/amd64");
  EXPECT_EQ(s.original, "FROM --platform=linux/amd64 busybox:1 AS Build");
  auto& c = s.commands;
  EXPECT_EQ(c[0].value, "Jane <j@x>");
  EXPECT_EQ(c[1].list, (V{"443/udp", "80", "8000-8001"}));  // sorted, as dockerd's history shows
  EXPECT_EQ(c[2].value, "nobody:nogroup");
  EXPECT_EQ(c[3].value, "/w x");
  EXPECT_EQ(c[4].list, (V{"/v1", "/v2"}));
  EXPECT_EQ(c[5].list, V{"/v3"});
  EXPECT_EQ(c[6].value, "SIGTERM");
  EXPECT_EQ(c[7].list, (V{"/bin/bash", "-c"}));
  EXPECT_EQ(c[8].value, "run   echo  \"x\"   ");  // dockerd keeps the trailing blanks
  EXPECT_EQ(c[9].health.test, (V{"CMD-SHELL", "wget -q x"}));
  EXPECT_EQ(c[9].health.interval, 5000000000);
  EXPECT_EQ(c[9].health.timeout, 90000000000);
  EXPECT_EQ(c[9].health.start_period, 1500000000);
  EXPECT_EQ(c[9].health.start_interval, 2000000000);
  EXPECT_EQ(c[9].health.retries, 3);
  EXPECT_EQ(c[10].health.test, V{"NONE"});
  EXPECT_EQ(one("HEALTHCHECK CMD [\"a\", \"b\"]").health.test, (V{"CMD", "a", "b"}));
  EXPECT_EQ(df.stages[1].base, "build");
}

TEST(DockerfileParser, CopyAndAddFlags) {
  auto copy = one("COPY --from=build --chown=1:2 --chmod=0644 --link --exclude=*.md --exclude=x --parents a b /d/");
  EXPECT_EQ(copy.from, "build");
  EXPECT_EQ(copy.chown, "1:2");
  EXPECT_EQ(copy.chmod, "0644");
  EXPECT_TRUE(copy.link);
  EXPECT_TRUE(copy.parents);
  EXPECT_EQ(copy.excludes, (V{"*.md", "x"}));
  EXPECT_EQ(copy.sources, (V{"a", "b"}));
  EXPECT_EQ(copy.dest, "/d/");
  auto add = one("ADD --checksum=sha256:abc --unpack=false --link=false https://x/y.tgz /d");
  EXPECT_EQ(add.checksum, "sha256:abc");
  ASSERT_TRUE(add.unpack.has_value());
  EXPECT_FALSE(*add.unpack);
  EXPECT_FALSE(add.link);
  EXPECT_FALSE(one("ADD a /d").unpack.has_value());
  // Flags may be quoted; `--` ends them.
  EXPECT_EQ(one("COPY --chown=\"a b\" x /").chown, "a b");
  EXPECT_EQ(one("COPY \"--chown=a\" x /").sources, (V{"\"--chown=a\"", "x"}));
  EXPECT_EQ(one("COPY -- --weird /").sources, V{"--weird"});
  // dockerd's words.
  EXPECT_EQ(parse_error("FROM busybox\nCOPY --chown=1 --chown=2 a.txt /\n"),
            "dockerfile parse error line 2: Duplicate flag specified: chown");
  EXPECT_EQ(parse_error("FROM busybox\nCOPY --from a.txt /\n"), "dockerfile parse error line 2: Missing a value on flag: from");
  EXPECT_EQ(parse_error("FROM busybox\n\nCOPY --bar=1 a b\n"), "dockerfile parse error line 3: Unknown flag: bar");
  EXPECT_EQ(parse_error("FROM busybox\nCOPY a.txt\n"),
            "dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination "
            "could not be determined");
  EXPECT_EQ(parse_error("FROM busybox\nCOPY --link=maybe a b\n"),
            "dockerfile parse error line 2: Expecting boolean value for flag link, not: maybe");
  EXPECT_EQ(parse_error("FROM busybox\nCOPY --link= a b\n"), "dockerfile parse error line 2: Missing a value on flag: link");
  EXPECT_EQ(parse_error("FROM busybox\nCOPY --checksum=x a b\n"), "dockerfile parse error line 2: Unknown flag: checksum");
  EXPECT_EQ(parse_error("FROM busybox\nADD --from=x a b\n"), "dockerfile parse error line 2: Unknown flag: from");
  EXPECT_EQ(parse_error("FROM busybox\nADD --keep-git-dir=maybe https://x/r.git /r\n"),
            "dockerfile parse error line 2: Expecting boolean value for flag keep-git-dir, not: maybe");
  EXPECT_TRUE(one("ADD --keep-git-dir https://x/r.git /r").keep_git_dir);
  EXPECT_FALSE(one("ADD --keep-git-dir=false https://x/r.git /r").keep_git_dir);
  EXPECT_FALSE(one("ADD https://x/r.git /r").keep_git_dir);
}

TEST(DockerfileParser, RunFlags) {
  auto run = one("RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked --mount=type=secret,id=tok "
                 "--network=none --security=sandbox pip install x");
  EXPECT_EQ(run.mount_specs.size(), 2u);
  EXPECT_EQ(run.network, "none");
  EXPECT_EQ(run.security, "sandbox");
  EXPECT_EQ(run.cmdline, V{"pip install x"});
  EXPECT_EQ(run.flags_used, (V{"mount", "mount", "network", "security"}));
  run = one("RUN --mount=type=bind,from=build,source=/out,target=/in cp -r /in /x");
  EXPECT_EQ(run.mount_froms, V{"build"});
  // A variable in a value is checked when the step runs; in from= it is refused at once.
  EXPECT_EQ(one("RUN --mount=type=$T,target=/x true").mount_specs.size(), 1u);
  EXPECT_EQ(parse_error("FROM x\nRUN --mount=from=$S,target=/x true\n"),
            "dockerfile parse error line 2: 'from' doesn't support variable expansion, define alias stage instead");
  EXPECT_EQ(parse_error("FROM x\nRUN --mount=type=bogus,target=/x true\n"),
            "dockerfile parse error line 2: unsupported mount type \"bogus\"");
  EXPECT_EQ(parse_error("FROM x\nRUN --network=bridge true\n"), "dockerfile parse error line 2: invalid network mode \"bridge\"");
  EXPECT_EQ(parse_error("FROM x\nRUN --security=bogus true\n"), "dockerfile parse error line 2: security \"bogus\" is not valid");
  // dockerd: "Unknown flag: foo".
  EXPECT_EQ(parse_error("FROM busybox\nRUN --foo x\n"), "dockerfile parse error line 2: Unknown flag: foo");
}

TEST(DockerfileParser, Mounts) {
  auto id = [](const std::string& v) { return v; };
  auto m = parse_mount("type=cache,target=/c,id=x,sharing=private,mode=0700,uid=1,gid=2", id);
  EXPECT_EQ(m.type, MountType::Cache);
  EXPECT_EQ(m.target, "/c");
  EXPECT_EQ(m.cache_id, "x");
  EXPECT_EQ(m.sharing, "private");
  EXPECT_EQ(*m.mode, 0700u);
  EXPECT_EQ(*m.uid, 1u);
  EXPECT_EQ(*m.gid, 2u);
  EXPECT_FALSE(m.read_only);
  m = parse_mount("target=/src", id);  // bind, read-only by default
  EXPECT_EQ(m.type, MountType::Bind);
  EXPECT_TRUE(m.read_only);
  EXPECT_FALSE(parse_mount("target=/src,rw", id).read_only);
  m = parse_mount("type=secret,id=tok,env=TOKEN,required", id);
  EXPECT_EQ(*m.env, "TOKEN");
  EXPECT_TRUE(m.required);
  EXPECT_EQ(parse_mount("type=tmpfs,target=/t,size=64m", id).size_limit, 64 << 20);
  EXPECT_EQ(parse_mount("\"target=/a,b\",type=tmpfs", id).target, "/a,b");
  auto err = [&](const std::string& v) {
    try {
      parse_mount(v, id);
    } catch (const hoist::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(err("target=/x,required"), "unexpected key 'required' for mount type 'bind'");
  EXPECT_EQ(err("type=bind,mode=0700,target=/x"), "mode not allowed for \"bind\" type mounts");
  EXPECT_EQ(err("type=secret"), "invalid secret mount. one of source, target required");
  EXPECT_EQ(err("type=secret,id=a,source=b"), "both source and id can't be set");
  EXPECT_EQ(err("type=bind,target=/x,sharing=shared"), "invalid cache sharing set for bind mount");
  EXPECT_EQ(err("type=cache,sharing=bogus"), "unsupported sharing value \"bogus\"");
  EXPECT_EQ(err("type=cache,bogus=1"), "unexpected key 'bogus' in 'bogus=1'");
  EXPECT_EQ(err("type=cache,bogus"), "invalid field 'bogus' must be a key=value pair");
  EXPECT_EQ(err("type=cache,uid=x"), "invalid value x for uid");
  EXPECT_EQ(err("type=tmpfs,size=lots"), "invalid value for size: lots");
  EXPECT_EQ(err("ta\"rget=/x"), "failed to parse csv mounts: parse error on line 1, column 3: bare \" in non-quoted-field");
  EXPECT_EQ(err("\"target=/x"), "failed to parse csv mounts: parse error on line 1, column 2: extraneous or missing \" in quoted-field");
  EXPECT_EQ(err(""), "failed to parse csv mounts: EOF");
}

TEST(DockerfileParser, InstructionErrors) {
  // All dockerd's answers.
  EXPECT_EQ(parse_error("FROM busybox\nFOO bar\n"), "dockerfile parse error line 2: unknown instruction: FOO");
  EXPECT_EQ(parse_error("FROM busybox AS 1x\n"),
            "dockerfile parse error line 1: invalid name for build stage: \"1x\", name can't start with a number or contain "
            "symbols");
  EXPECT_EQ(parse_error("FROM busybox AS\n"), "dockerfile parse error line 1: FROM requires either one or three arguments");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=0 CMD x\n"),
            "dockerfile parse error line 2: --retries must be at least 1 (not 0)");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --interval=0s CMD x\n"),
            "dockerfile parse error line 2: Interval \"interval\" cannot be less than 1ms");
  EXPECT_EQ(parse_error("FROM busybox\nSHELL sh -c\n"), "dockerfile parse error line 2: SHELL requires the arguments to be in JSON form");
  EXPECT_EQ(parse_error("FROM busybox\nEXPOSE\n"), "dockerfile parse error line 2: EXPOSE requires at least one argument");
  EXPECT_EQ(parse_error("FROM busybox\nONBUILD FROM x\n"), "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(parse_error("FROM busybox\nONBUILD ONBUILD RUN x\n"),
            "dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(parse_error("FROM busybox\nONBUILD maintainer x\n"),
            "dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(parse_error("FROM busybox\nUSER a b\n"), "(no error)");  // one string
  EXPECT_EQ(parse_error("FROM busybox\nUSER\n"), "dockerfile parse error line 2: USER requires exactly one argument");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK CMD\n"), "dockerfile parse error line 2: Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK BOGUS x\n"),
            "dockerfile parse error line 2: Unknown type \"BOGUS\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK NONE x\n"), "dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=-2 CMD y\n"),
            "dockerfile parse error line 2: --retries must be at least 1 (not -2)");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=99999999999 CMD y\n"),
            "dockerfile parse error line 2: strconv.ParseInt: parsing \"99999999999\": value out of range");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=+4 CMD y\n"), "(no error)");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=+-4 CMD y\n"),
            "dockerfile parse error line 2: strconv.ParseInt: parsing \"+-4\": invalid syntax");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=- CMD y\n"),
            "dockerfile parse error line 2: strconv.ParseInt: parsing \"-\": invalid syntax");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --retries=x CMD y\n"),
            "dockerfile parse error line 2: strconv.ParseInt: parsing \"x\": invalid syntax");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --timeout=5 CMD y\n"),
            "dockerfile parse error line 2: time: missing unit in duration \"5\"");
  EXPECT_EQ(parse_error("FROM busybox\nHEALTHCHECK --timeout=5x CMD y\n"),
            "dockerfile parse error line 2: time: unknown unit \"x\" in duration \"5x\"");
  EXPECT_EQ(parse_error("FROM busybox\nVOLUME [\"\"]\n"), "dockerfile parse error line 2: VOLUME specified can not be an empty string");
  EXPECT_EQ(parse_error("FROM busybox\nWORKDIR\n"), "dockerfile parse error line 2: WORKDIR requires exactly one argument");
  EXPECT_EQ(parse_error("FROM busybox\nENV --x=1 A=b\n"), "dockerfile parse error line 2: Unknown flag: x");
  // Located errors name the file and line.
  try {
    parse_stages("FROM busybox\n\nBOGUS\n", "app.Dockerfile");
    FAIL();
  } catch (const DockerfileError& e) {
    EXPECT_EQ(e.file(), "app.Dockerfile");
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.located(), "app.Dockerfile:3: unknown instruction: BOGUS");
  }
}

TEST(DockerfileParser, Heredocs) {
  auto df = parse_stages("FROM x\nRUN <<EOF\necho hi\necho $HOME\nEOF\nRUN true\n");
  Instruction run = df.stages[0].commands[0];
  EXPECT_EQ(run.cmdline, V{"<<EOF"});
  ASSERT_EQ(run.files.size(), 1u);
  EXPECT_EQ(run.files[0].name, "EOF");
  EXPECT_EQ(run.files[0].content, "echo hi\necho $HOME\n");
  EXPECT_TRUE(run.files[0].expand);
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.end_line, 5);
  EXPECT_EQ(df.stages[0].commands[1].line, 6);
  // Several on one line, quoted (no expansion), with <<- (tabs removed when used).
  df = parse_stages("FROM x\nRUN <<A cat /dev/stdin - 3<<'B' && <<-\"C\" sh\na\nA\nb $X\nB\n\t\tc\n\tC\n");
  run = df.stages[0].commands[0];
  ASSERT_EQ(run.files.size(), 3u);
  EXPECT_EQ(run.files[0].content, "a\n");
  EXPECT_EQ(run.files[1].name, "B");
  EXPECT_FALSE(run.files[1].expand);
  EXPECT_EQ(run.files[1].fd, 3u);
  EXPECT_TRUE(run.files[2].chomp);
  EXPECT_EQ(run.files[2].content, "\t\tc\n");
  EXPECT_EQ(chomp_heredoc(run.files[2].content), "c\n");
  // COPY: a heredoc source is a file of that name.
  df = parse_stages("FROM x\nCOPY <<eot <<\"raw\" /etc/\nv=$V\neot\nw=$W\nraw\n");
  Instruction copy = df.stages[0].commands[0];
  EXPECT_TRUE(copy.sources.empty());
  ASSERT_EQ(copy.source_contents.size(), 2u);
  EXPECT_EQ(copy.source_contents[0].path, "eot");
  EXPECT_EQ(copy.source_contents[0].data, "v=$V\n");
  EXPECT_TRUE(copy.source_contents[0].expand);
  EXPECT_FALSE(copy.source_contents[1].expand);
  EXPECT_EQ(copy.dest, "/etc/");
  // Not in the JSON form, not for other instructions.
  EXPECT_TRUE(one("RUN [\"cat\", \"<<EOF\"]").files.empty());
  EXPECT_EQ(parse_error("FROM x\nCMD <<EOF\nEOF\n"), "dockerfile parse error line 3: unknown instruction: EOF");
  // ONBUILD keeps its heredocs in the trigger text.
  df = parse_stages("FROM x\nONBUILD RUN <<EOF\necho t\nEOF\n");
  EXPECT_EQ(df.stages[0].commands[0].value, "RUN <<EOF\necho t\nEOF");
  // BuildKit's errors.
  EXPECT_EQ(parse_error("FROM x\nRUN <<EOF\necho\n"), "failed to parse Dockerfile: unterminated heredoc");
  EXPECT_EQ(parse_error("FROM x\nCOPY a <<EOF\nx\nEOF\n"), "dockerfile parse error line 2: COPY cannot accept a heredoc as a destination");
}

TEST(DockerfileParser, Triggers) {
  auto in = parse_trigger("RUN echo hi", "Dockerfile", 7);
  EXPECT_EQ(in.kind, Kind::Run);
  EXPECT_EQ(in.line, 7);
  auto err = [](const std::string& t) {
    try {
      parse_trigger(t, "Dockerfile", 1);
    } catch (const DockerfileError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(err("RUN a\nRUN b"), "onbuild trigger should be a single expression");
  EXPECT_EQ(err("BOGUS"), "unknown instruction: BOGUS");
  EXPECT_EQ(err("COPY x"), "COPY requires at least two arguments, but only one was provided. Destination could not be determined");
}
