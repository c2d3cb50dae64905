// Docker's shell lexer: quotes, escapes, substitution forms and their errors. The expected
// words of the forms dockerd 20.10 knows (quotes, $v, ${v}, ${v:-w}, ${v:+w}, ${v?}, ${v:?}) were
// checked against its classic builder (ENV/LABEL values); the newer forms (${v-w}, ${v+w}, ${v#p},
// ${v%s}, ${v/p/r}) follow BuildKit's lexer and bash.
#include "builder/shell_lex.h"

#include <gtest/gtest.h>

using hoist::builder::env_lookup;
using hoist::builder::LexError;
using hoist::builder::ShellLex;

namespace {

const std::vector<std::string> kEnv = {"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL=", "SPACE=abc  def",
                                       "LEAD=  ab c", "FOO=xxyy"};

std::string word(const std::string& in, const std::vector<std::string>& env = kEnv, char escape = '\\') {
  ShellLex lex;
  lex.escape = escape;
  return lex.word(in, env_lookup(env));
}

std::string error(const std::string& in, const std::vector<std::string>& env = kEnv) {
  try {
    word(in, env);
  } catch (const LexError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> words(const std::string& in) {
  ShellLex lex;
  return lex.words(in, env_lookup(kEnv));
}

}  // namespace

TEST(ShellLex, QuotesAndEscapes) {
  EXPECT_EQ(word("hello"), "hello");
  EXPECT_EQ(word("he'll'o"), "hello");
  EXPECT_EQ(word("he\\'llo"), "he'llo");
  EXPECT_EQ(word("abc\\tdef"), "abctdef");
  EXPECT_EQ(word("\"abc\\tdef\""), "abc\\tdef");
  EXPECT_EQ(word("\"abc\\\\tdef\""), "abc\\tdef");
  EXPECT_EQ(word("'abc\\tdef'"), "abc\\tdef");
  EXPECT_EQ(word("hello\\"), "hello");  // an escape at the end is dropped
  EXPECT_EQ(word("hello\\\\"), "hello\\");
  EXPECT_EQ(word("\"hel'lo\""), "hel'lo");
  EXPECT_EQ(word("'hello\\'"), "hello\\");
  EXPECT_EQ(word("\"''\""), "''");
  EXPECT_EQ(word("'\"hello\"'"), "\"hello\"");
  EXPECT_EQ(word("안'녕'하세요"), "안녕하세요");
  EXPECT_EQ(word("안녕\\'하세요"), "안녕'하세요");
  // The escape token of the `# escape=`` ` `` directive.
  EXPECT_EQ(word("a`$PWD`\\", kEnv, '`'), "a$PWD\\");
  EXPECT_EQ(word("\"a`\"b\"", kEnv, '`'), "a\"b");
}

TEST(ShellLex, Variables) {
  EXPECT_EQ(word("$."), "$.");
  EXPECT_EQ(word("he$1x"), "hex");
  EXPECT_EQ(word("he$.x"), "he$.x");
  EXPECT_EQ(word("he$pwd."), "he.");
  EXPECT_EQ(word("he$PWD"), "he/home");
  EXPECT_EQ(word("he\\$PWD"), "he$PWD");
  EXPECT_EQ(word("he\\\\$PWD"), "he\\/home");
  EXPECT_EQ(word("\"he\\$PWD\""), "he$PWD");
  EXPECT_EQ(word("\"he\\\\$PWD\""), "he\\/home");
  EXPECT_EQ(word("\\${}aaa"), "${}aaa");
  EXPECT_EQ(word("he${hi}xx"), "hexx");
  EXPECT_EQ(word("he${PWD}"), "he/home");
  EXPECT_EQ(word("'he${XX}'"), "he${XX}");
  EXPECT_EQ(word("\"he'$PWD'\""), "he'/home'");
  EXPECT_EQ(word("'\\$PWD'"), "\\$PWD");
  EXPECT_EQ(word("$KOREAN"), "한국어");
  EXPECT_EQ(word("${aaa}}"), "}");
  EXPECT_EQ(word("$999aaa"), "aaa");
  EXPECT_EQ(word("$@@@"), "@@");
  EXPECT_EQ(word("${@:-bbb}aaa"), "bbbaaa");
  EXPECT_EQ(word("${001:-bbb}"), "bbb");
}

TEST(ShellLex, Modifiers) {
  EXPECT_EQ(word("he${XXX:-000}xx"), "he000xx");
  EXPECT_EQ(word("he${PWD:-000}xx"), "he/homexx");
  EXPECT_EQ(word("he${XXX:-${YYY:-yyy}}xx"), "heyyyxx");
  EXPECT_EQ(word("he${XXX:+000}xx"), "hexx");
  EXPECT_EQ(word("he${PWD:+${SHELL}}xx"), "hebashxx");
  EXPECT_EQ(word("he${PWD:+${PWD}:}xx"), "he/home:xx");
  EXPECT_EQ(word("he${XXX:-\\$PWD:}xx"), "he$PWD:xx");
  EXPECT_EQ(word("he${XXX:-\\${PWD}z}xx"), "he${PWDz}xx");
  EXPECT_EQ(word("${aaa:-bbb {foo}"), "bbb {foo");
  // Without the colon, only unset counts.
  EXPECT_EQ(word("${NULL-x}"), "");
  EXPECT_EQ(word("${NULL:-x}"), "x");
  EXPECT_EQ(word("${NOPE-x}"), "x");
  EXPECT_EQ(word("${NULL+x}"), "x");
  EXPECT_EQ(word("${NULL:+x}"), "");
  EXPECT_EQ(word("he${PWD?}"), "he/home");
  EXPECT_EQ(word("he${NULL?}"), "he");
}

TEST(ShellLex, Patterns) {
  EXPECT_EQ(word("${FOO#*x*y}"), "y");
  EXPECT_EQ(word("${FOO#*}"), "xxyy");
  EXPECT_EQ(word("${FOO##*x}"), "yy");
  EXPECT_EQ(word("${FOO#x}"), "xyy");
  EXPECT_EQ(word("${FOO#}"), "xxyy");
  EXPECT_EQ(word("${FOO%y}"), "xxy");
  EXPECT_EQ(word("${FOO%%y*}"), "xx");
  EXPECT_EQ(word("${FOO%x}"), "xxyy");
  EXPECT_EQ(word("${FOO#$NULL}"), "xxyy");
  EXPECT_EQ(word("${V#?\\?}", {"V=???y"}), "?y");
  EXPECT_EQ(word("${V%%\\**}", {"V=xx**"}), "xx");
  EXPECT_EQ(word("${V%%\\**\\*}", {"V=a***yy*"}), "a");
  EXPECT_EQ(word("${V#()[]{\\}^$.\\*\\?|\\\\}", {"V=()[]{}^$.*?|\\x"}), "x");
  EXPECT_EQ(word("${V%.*}", {"V=archive.tar.gz"}), "archive.tar");
  EXPECT_EQ(word("${V%%.*}", {"V=archive.tar.gz"}), "archive");
  EXPECT_EQ(word("${V##*/}", {"V=/usr/local/bin/tool"}), "tool");
  // A star does not cross a newline (Go's regexp `.`).
  EXPECT_EQ(word("${V#*b}", {"V=a\nb"}), "a\nb");
  EXPECT_EQ(word("${V/$N/.} - ${V//$N/.}", {"V=/foo*/*/*.txt", "N=\\*/"}), "/foo.*/*.txt - /foo..*.txt");
  EXPECT_EQ(word("${V/$N/} - ${V//$N/}", {"V=/tmp/tmp/bar.txt", "N=/tmp"}), "/tmp/bar.txt - /bar.txt");
  EXPECT_EQ(word("${V/$N/$R} - ${V//$N/$R}", {"V=/a/foo/b/c.txt", "N=/?/", "R=/"}), "/foo/b/c.txt - /foo/c.txt");
  EXPECT_EQ(word("${V//\\//\\/}", {"V=/tmp/foo.txt"}), "\\/tmp\\/foo.txt");
  EXPECT_EQ(word("${V/$B/ww}", {"V=xxyy", "B="}), "wwxxyy");
  EXPECT_EQ(word("${V///}", {"V=xxyy"}), "xxyy");
}

TEST(ShellLex, ErrorsAsDocker) {
  // Taken from dockerd 20.10's classic builder (ENV A=<text>).
  EXPECT_EQ(error("${}"), "failed to process \"${}\": syntax error: bad substitution");
  EXPECT_EQ(error("'abc"), "failed to process \"'abc\": unexpected end of statement while looking for matching single-quote");
  EXPECT_EQ(error("${B?}"), "failed to process \"${B?}\": B: is not allowed to be unset");
  EXPECT_EQ(error("${B:#x}"), "failed to process \"${B:#x}\": unsupported modifier (:#) in substitution");
  // BuildKit's words for what dockerd 20.10 does not know.
  EXPECT_EQ(error("he${PWD"), "failed to process \"he${PWD\": unsupported modifier (\xEF\xBF\xBD) in substitution");
  EXPECT_EQ(error("${aaa:-bbb"), "failed to process \"${aaa:-bbb\": syntax error: missing '}'");
  EXPECT_EQ(error("${NULL:?}"), "failed to process \"${NULL:?}\": NULL: is not allowed to be empty");
  EXPECT_EQ(error("${X:?custom}"), "failed to process \"${X:?custom}\": X: custom");
  EXPECT_EQ(error("\"hello\\\""), "failed to process \"\\\"hello\\\\\\\"\": unexpected end of statement while looking for matching double-quote");
  EXPECT_EQ(error("he${XXX:YYY}"), "failed to process \"he${XXX:YYY}\": unsupported modifier (:Y) in substitution");
  EXPECT_EQ(error("${PWD:=000}"), "failed to process \"${PWD:=000}\": unsupported modifier (:=) in substitution");
  EXPECT_EQ(error("${{aaa}"), "failed to process \"${{aaa}\": syntax error: bad substitution");
  EXPECT_EQ(error("${:-bbb}"), "failed to process \"${:-bbb}\": syntax error: bad substitution");
  EXPECT_EQ(error("${FOO//ww}"), "failed to process \"${FOO//ww}\": syntax error: missing '/' in ${}");
  EXPECT_EQ(error("${FOO#\\x}"), "failed to process \"${FOO#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'");
}

TEST(ShellLex, Words) {
  EXPECT_EQ(words("hello${SPACE}bye"), (std::vector<std::string>{"helloabc", "defbye"}));
  EXPECT_EQ(words("hello\"${SPACE}\"bye"), (std::vector<std::string>{"helloabc  defbye"}));
  EXPECT_EQ(words("hello \"${SPACE}\"bye"), (std::vector<std::string>{"hello", "abc  defbye"}));
  EXPECT_EQ(words("hello${LEAD}def"), (std::vector<std::string>{"hello", "ab", "cdef"}));
  EXPECT_EQ(words("hello\\ there"), (std::vector<std::string>{"hello there"}));
  EXPECT_EQ(words("hello\\\" there"), (std::vector<std::string>{"hello\"", "there"}));
  EXPECT_EQ(words("hello'$there'"), (std::vector<std::string>{"hello$there"}));
  EXPECT_EQ(words("a ${NOPE:-b c}d"), (std::vector<std::string>{"a", "b", "cd"}));
  EXPECT_TRUE(words("").empty());
}

TEST(ShellLex, MatchedAndUnmatched) {
  ShellLex lex;
  auto r = lex.process("${ABC:-.}${FOO%x}$PWD", env_lookup(kEnv));
  EXPECT_EQ(r.word, ".xxyy/home");
  EXPECT_EQ(r.matched, (std::set<std::string>{"FOO", "PWD"}));
  EXPECT_EQ(r.unmatched, (std::set<std::string>{"ABC"}));
}

TEST(ShellLex, RawModes) {
  ShellLex lex;
  lex.raw_quotes = lex.raw_escapes = lex.skip_unset_env = true;
  EXPECT_EQ(lex.words("COPY <<\"EOF\" /x $A ${B:-c}", {}),
            (std::vector<std::string>{"COPY", "<<\"EOF\"", "/x", "$A", "${B:-c}"}));
  ShellLex noquotes;
  noquotes.skip_process_quotes = true;
  EXPECT_EQ(noquotes.word("'$PWD' \"x\"", env_lookup(kEnv)), "'/home' \"x\"");
}
