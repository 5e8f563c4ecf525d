"""Fix transfer after a failure (``learn.suggest_fixes``): a fix learned once is transplanted
onto the next failure of the same pattern, words the fix repeated included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mspmode.engine import Memory, record
from mspmode.engine.transfer import printed_fix, suggest_fixes

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UPSTREAM = (
    "fatal: The current branch master has no upstream branch.\n"
    "To push the current branch and set the remote as upstream, use\n\n"
    "    git push --set-upstream origin master\n"
)


def _taught(failed: str, output: str, fixed: str) -> Memory:
    memory = Memory()
    record(memory, None, failed, 1, output, T0, "s1")
    learned = record(memory, None, fixed, 0, "", T0 + timedelta(seconds=20), "s1")
    assert learned.fixes, "the fix was not learned"
    return memory


def _after(memory: Memory, command: str, output: str) -> list[str]:
    return suggest_fixes(memory, record(memory, None, command, 1, output, T0 + timedelta(minutes=5), "s2"))


def test_an_unclassified_failure_learns_its_fix_and_transplants_it() -> None:
    memory = _taught("git push", UPSTREAM, "git push --set-upstream origin master")
    assert _after(memory, "git push --force", UPSTREAM)[0] == "git push --set-upstream origin master --force"


def test_a_word_the_fix_repeated_is_taken_from_the_new_command() -> None:
    memory = _taught("cd foo", "", "mkdir -p foo && cd foo")  # a failure that printed nothing
    got = _after(memory, "cd foo/bar/baz", "")
    assert got[0] == "mkdir -p foo/bar/baz && cd foo/bar/baz"


def test_the_same_command_failing_again_gets_the_fix_as_it_was() -> None:
    memory = _taught("git push", UPSTREAM, "git push --set-upstream origin master")
    assert _after(memory, "git push", UPSTREAM) == ["git push --set-upstream origin master"]


def test_a_fix_of_another_command_is_not_suggested_as_it_was() -> None:
    out = "git: 'brnch' is not a git command. See 'git --help'."
    memory = _taught("git brnch", out, "git branch")
    # another typo: the edit does not transplant, and "git branch" would be wrong here
    assert _after(memory, "git chekcout", "git: 'chekcout' is not a git command. See 'git --help'.") == []


def test_nothing_learned_nothing_suggested() -> None:
    memory = Memory()
    assert _after(memory, "git push", UPSTREAM) == []


def test_a_word_the_fix_derived_is_derived_again_and_quoted() -> None:
    memory = _taught("tar xvf foo.tar", "", "mkdir -p foo && tar xvf foo.tar -C foo")
    got = _after(memory, 'tar --extract -f "foo bar.tar"', "")
    assert got[0] == "mkdir -p 'foo bar' && tar --extract -f \"foo bar.tar\" -C 'foo bar'"


def test_a_suffix_the_fix_added_is_added_to_the_new_word() -> None:
    memory = _taught("javac foo", "error: file not found: foo", "javac foo.java")  # same shape, other file
    assert _after(memory, "javac bar", "error: file not found: bar")[0] == "javac bar.java"


def test_a_word_the_error_suggested_is_read_again_from_the_new_error() -> None:
    def out(word: str, hint: str) -> str:
        return f"tool: unknown command '{word}'\n(did you mean one of {hint}?)"

    memory = _taught("tool brnch", out("brnch", "branch, bench"), "tool branch")
    assert _after(memory, "tool chekout", out("chekout", "checkout, cherry"))[0] == "tool checkout"


def test_a_fix_picked_from_a_fixed_list_does_not_carry_to_another_typo() -> None:
    listing = "usage: tool <command>\n\nwhere <command> is one of:\n    ps, pull, push, tag\n"
    memory = _taught("tool pes", listing, "tool ps")
    # "ps" is printed unchanged for the new failure: the fix was a choice by likeness, and the
    # choice for "tga" is "tag"
    assert _after(memory, "tool tga", listing)[:1] == ["tool tag"]


def test_a_fix_the_new_command_already_has_is_not_suggested_again() -> None:
    out = "error: externally managed; use --user"
    memory = _taught("pip install -r req.txt", out, "pip install --user -r req.txt")
    assert _after(memory, "pip install --user -r req.txt", out) == []


def test_a_fix_the_error_printed_is_read_from_the_new_error() -> None:
    def out(branch: str) -> str:
        return (
            f"fatal: The current branch {branch} has no upstream branch.\n"
            "To push the current branch and set the remote as upstream, use\n\n"
            f"    git push --set-upstream origin {branch}\n"
        )

    memory = _taught("git push", out("master"), "git push --set-upstream origin master")
    # with options of its own the transplanted fix is kept when it is the printed one and more
    assert (
        _after(memory, "git push --force", out("master"))[0]
        == "git push --set-upstream origin master --force"
    )


def test_printed_fix_between_the_same_words() -> None:
    old = 'error `install` has been replaced with `add`. Run "yarn add redux" instead.'
    new = 'error `install` has been replaced with `add`. Run "yarn add moment" instead.'
    assert printed_fix("yarn add redux", old, new) == "yarn add moment"
    assert printed_fix("yarn add redux", old, "something else") is None
    assert printed_fix("npm i", old, new) is None


# ---- what the error prints: choices, picks, advice ------------------------------------------


def test_a_printed_spelling_replaces_the_new_commands_word_in_its_place() -> None:
    def out(option: str) -> str:
        return f"error: did you mean `-{option}` (with two dashes ?)"

    memory = _taught("git add -patch", out("-patch"), "git add --patch")
    # the error printed --bare; the command's word in the place of -patch is -bare
    assert _after(memory, "git init -bare", out("-bare"))[0] == "git init --bare"


def test_a_word_printed_twice_is_read_where_both_sides_agree() -> None:
    def out(word: str, listing: str, pick: str) -> str:
        return (
            "tool: error: argument command: Invalid choice, valid choices are:\n\n"
            f"{listing}\n\nInvalid choice: '{word}', maybe you meant:\n\n  * {pick}\n"
        )

    memory = _taught("tool dynamdb scan", out("dynamdb", "dynamodb | ec2", "dynamodb"), "tool dynamodb scan")
    # the pick, not the first word of the new listing
    got = _after(memory, "tool dynamodb scn", out("scn", "query | scan", "scan"))
    assert got[0] == "tool dynamodb scan"


def test_a_word_that_starts_the_message_is_read_by_the_words_after_it() -> None:
    def out(word: str) -> str:
        return f"{word}: Unknown command\nDid you mean -{word}?  This command begins with a dash."

    memory = _taught("hdfs dfs ls", out("ls"), "hdfs dfs -ls")
    assert _after(memory, "hdfs dfs rm /tmp/x", out("rm"))[0] == "hdfs dfs -rm /tmp/x"


@pytest.mark.parametrize(
    ("teach", "new", "expected"),
    [
        # a list of one: "(did you mean one of revert?)"
        (
            (
                "hg base",
                "hg: unknown command 'base'\n(did you mean one of blame, phase, rebase?)",
                "hg rebase",
            ),
            ("hg vert", "hg: unknown command 'vert'\n(did you mean one of revert?)"),
            "hg revert",
        ),
        # the alternatives of a usage line
        (
            ("git bisect goood", "usage: git bisect [help|start|bad|good|reset|log]", "git bisect good"),
            ("git bisect rset", "usage: git bisect [help|start|bad|good|reset|log]"),
            "git bisect reset",
        ),
        # words under a heading; an ambiguous word is an unknown one
        (
            (
                "hg base",
                "hg: unknown command 'base'\n(did you mean one of blame, phase, rebase?)",
                "hg rebase",
            ),
            ("hg re", "hg: command 're' is ambiguous:\n    rebase recover remove rename"),
            "hg rebase",
        ),
    ],
)
def test_a_choice_the_error_offers_is_taken_by_likeness(
    teach: tuple[str, str, str], new: tuple[str, str], expected: str
) -> None:
    memory = _taught(*teach)
    assert _after(memory, *new)[0] == expected


def test_one_choice_taught_says_nothing_about_choosing_among_several() -> None:
    def out(word: str, choices: list[str]) -> str:
        head = "The most similar command is" if len(choices) == 1 else "The most similar commands are"
        return f"git: '{word}' is not a git command. See 'git --help'.\n\n{head}\n" + "\n".join(choices)

    memory = _taught("git brnch", out("brnch", ["branch"]), "git branch")
    assert _after(memory, "git st", out("st", ["status", "stage", "stash"])) == []


def test_errors_that_offer_other_choices_are_one_failure() -> None:
    def out(word: str, hint: str) -> str:
        return f'Warning: No available formula with the name "{word}". Did you mean {hint}?'

    memory = _taught("brew install giss", out("giss", "gist"), "brew install gist")
    assert _after(memory, "brew install gitt", out("gitt", "git, gitg or gist"))[0] == "brew install git"


def test_errors_that_give_the_same_advice_are_one_failure() -> None:
    memory = _taught(
        "vagrant ssh",
        "VM must be running to open SSH connection. Run `vagrant up`\nto start the virtual machine.",
        "vagrant up && vagrant ssh",
    )
    got = _after(
        memory, "vagrant rdp", "VM must be created before running this command. Run `vagrant up` first."
    )
    assert got[0] == "vagrant up && vagrant rdp"


def test_a_first_step_the_error_printed_is_read_from_the_new_error() -> None:
    def out(env: str, rails: str) -> str:
        head = "\nMigrations are pending. To resolve this issue, run:\n\n        "
        return f"{head}{rails} db:migrate RAILS_ENV={env}\n"

    memory = _taught(
        "bin/rspec", out("development", "rails"), "rails db:migrate RAILS_ENV=development && bin/rspec"
    )
    # the same command, the step printed for it now: not the learned one as it was
    got = _after(memory, "bin/rspec", out("test", "bin/rails"))
    assert got[0] == "bin/rails db:migrate RAILS_ENV=test && bin/rspec"


def test_a_shortcut_program_fails_as_the_program_it_runs() -> None:
    memory = _taught("choco install logstitcher", "", "choco install logstitcher.install")
    assert _after(memory, "cinst logstitcher -y", "")[0] == "cinst logstitcher.install -y"
