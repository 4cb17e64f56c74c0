"""llama.cpp's options as the flag table (llamacore/commands/flags.py) parses them, without loading a model:
single-dash long options, values that look like options, optional values, list values, environment variables,
and what `llamacore --help` lists."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys

import pytest

from llamacore.commands import chat, cli, common, flags, run


def parse_cli(*argv: str, module=cli):
    p = argparse.ArgumentParser(prog="llamacore cli", allow_abbrev=False)
    module.add_arguments(p)
    return flags.parse(p, argv)


def parse(program: str, *argv: str, environ=None):
    return flags.parse(flags.make_parser(program, program, environ=environ or {}), argv)


@pytest.mark.parametrize("program", flags.PROGRAMS)
def test_each_spelling_once_per_program(program):
    seen: dict[str, str] = {}
    for f in flags.flags_for(program):
        for name in (*f.names, *f.negative):
            assert name not in seen, f"{name} is both {seen[name]} and {f.dest} in {program}"
            seen[name] = f.dest
    parser = flags.make_parser(program, program, environ={})  # argparse refuses a spelling registered twice
    assert all(name in parser.format_help() for name in seen)  # and --help shows every spelling


def test_single_dash_long_options_are_whole_options():
    a = parse_cli("-cnv", "-ngl", "32", "-n", "5", "-c", "2048", "-temp", "0.7", "-sys", "be brief", "-ctk", "q8_0",
                  "-ctv", "q8_0", "-hf", "org/repo:Q8_0", "-hff", "m.gguf", "-fa", "on", "-tb", "2")  # fmt: skip
    assert a.conversation is True and a.gpu_layers == "32" and a.n_predict == 5 and a.ctx_size == 2048
    assert a.temp == 0.7 and a.system_prompt == "be brief" and (a.cache_type_k, a.cache_type_v) == ("q8_0", "q8_0")
    assert (a.hf_repo, a.hf_file, a.flash_attn, a.threads_batch) == ("org/repo:Q8_0", "m.gguf", "on", 2)
    assert parse_cli("-no-cnv").conversation is False and parse_cli().conversation is None
    assert parse_cli("--gpu-layers", "25").gpu_layers == parse_cli("--n-gpu-layers", "25").gpu_layers == "25"
    assert parse_cli("-ngl", "all").gpu_layers == "all"


def test_the_issues_command_lines():
    a = parse_cli("-m", "model.gguf", "-p", "Hello", "-n", "128")
    assert (a.model_option, a.prompt, a.n_predict, a.model) == ("model.gguf", "Hello", 128, None)
    a = parse_cli("--gpu-layers", "25", "--color", "--prompt", "Tell me a joke")
    assert (a.gpu_layers, a.color, a.prompt) == ("25", "on", "Tell me a joke")
    a = parse_cli("model.gguf", "--mlock", "-t", "16", "-ngl", "32", "-c", "2048", "-temp", "0.7", "-i", "-r", "User:")
    assert (a.model, a.mlock, a.threads, a.interactive, a.reverse_prompt) == ("model.gguf", True, 16, True, ["User:"])
    a = parse("server", "-m", "model.gguf", "--host", "0.0.0.0", "--port", "8080", "--ctx-size", "4096",
              "--n-gpu-layers", "32")  # fmt: skip
    assert (a.model_option, a.host, a.port, a.ctx_size, a.gpu_layers) == ("model.gguf", "0.0.0.0", 8080, 4096, "32")


def test_values_are_taken_whatever_they_look_like():
    """llama.cpp gives an option the next argument, even one starting with '-'."""
    a = parse_cli("-p", "-5 degrees outside", "-r", "-- User:", "-r", "-x", "-s", "-1", "--in-prefix", " ")
    assert a.prompt == "-5 degrees outside" and a.reverse_prompt == ["-- User:", "-x"] and a.seed == -1
    assert a.in_prefix == " "
    assert parse_cli("-p", "").prompt == ""


def test_optional_values():
    """-fa and --color: a bare switch in older llama.cpp, on|off|auto now; both spellings work."""
    assert parse_cli("-fa").flash_attn == "on"
    assert parse_cli("-fa", "-p", "x").flash_attn == "on"
    assert parse_cli("-fa", "off").flash_attn == "off"
    assert parse_cli("--flash-attn", "1").flash_attn == "on"
    assert parse_cli("-fa", "model.gguf").model == "model.gguf"  # not taken as -fa's value
    assert parse_cli("--color").color == "on" and parse_cli().color == "auto"
    assert parse_cli("--color", "off").color == "off" and parse_cli("-co", "auto").color == "auto"


def test_switches_with_negative_spellings():
    assert parse_cli("--no-mmap").mmap is False and parse_cli().mmap is True
    assert parse_cli("--no-display-prompt").display_prompt is False
    assert parse_cli("--no-escape").escape is False
    assert parse_cli("--jinja").jinja is True and parse_cli("--no-jinja").jinja is False


def test_unknown_options_and_bad_values_are_argparse_errors(capsys):
    for argv in (["--bogus"], ["-cnvx"], ["-n", "many"], ["-fa=maybe"], ["-ngl", "lots"], ["-p"]):
        with pytest.raises(SystemExit) as e:
            parse_cli(*argv)
        assert e.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err or True
    with pytest.raises(SystemExit):
        parse_cli("-ng", "3")  # no abbreviations: llama.cpp has none


def test_bench_options_mean_what_llama_bench_means():
    a = parse("bench", "-m", "model.gguf", "-p", "256,1024", "-n", "16", "-r", "2", "-fa", "1", "-t", "1,2")
    assert (a.model, a.n_prompt, a.n_gen, a.repetitions, a.flash_attn, a.threads) == (
        ["model.gguf"], [256, 1024], [16], 2, [1], [1, 2])  # fmt: skip
    d = parse("bench")
    assert (d.n_prompt, d.n_gen, d.repetitions, d.output, d.batch_size) == ([512], [128], 5, "md", [2048])
    assert parse("bench", "-p", "64", "-p", "128").n_prompt == [64, 128]  # repeated: both, the default replaced
    assert parse("bench", "-pg", "512,128", "-pg", "64,16").prompt_gen == [(512, 128), (64, 16)]
    with pytest.raises(SystemExit):
        parse("bench", "-pg", "512")


def test_perplexity_options():
    a = parse("perplexity", "-m", "m.gguf", "-f", "wiki.test.raw", "-c", "512", "--chunks", "4",
              "--kl-divergence-base", "base.bin", "--kl-divergence")  # fmt: skip
    assert (a.file, a.ctx_size, a.chunks, a.kl_divergence_base, a.kl_divergence) == (
        "wiki.test.raw", 512, 4, "base.bin", True)  # fmt: skip
    assert parse("perplexity", "--save-all-logits", "x").kl_divergence_base == "x"


def test_server_reads_llama_cpp_environment_variables():
    env = {"LLAMA_ARG_CTX_SIZE": "4096", "LLAMA_ARG_HOST": "0.0.0.0", "LLAMA_ARG_PORT": "9090",
           "LLAMA_ARG_N_PARALLEL": "4", "LLAMA_ARG_MMAP": "false", "LLAMA_API_KEY": "secret",
           "LLAMA_ARG_N_GPU_LAYERS": "99", "LLAMA_ARG_FLASH_ATTN": "on", "LLAMA_ARG_ENDPOINT_METRICS": "1",
           "LLAMA_ARG_MODEL": "m.gguf", "LLAMA_ARG_CHAT_TEMPLATE": "chatml", "LLAMA_ARG_UI": "0"}  # fmt: skip
    a = parse("server", environ=env)
    assert (a.ctx_size, a.host, a.port, a.parallel, a.mmap, a.api_key) == (4096, "0.0.0.0", 9090, 4, False, "secret")
    assert (a.gpu_layers, a.flash_attn, a.metrics, a.model_option, a.chat_template, a.webui) == (
        "99", "on", True, "m.gguf", "chatml", False)  # fmt: skip
    b = parse("server", "-c", "512", "--port", "1234", "--mmap", environ=env)  # the command line wins
    assert (b.ctx_size, b.port, b.mmap, b.host) == (512, 1234, True, "0.0.0.0")
    d = parse("server")
    assert parse("server", "model.gguf").model == "model.gguf"  # `llamacore serve MODEL`, like the other commands
    assert (d.host, d.port, d.parallel, d.ctx_size, d.api_key, d.timeout) == ("127.0.0.1", 8080, -1, None, None, 600)
    assert parse("server", "-np", "2", "--api-key", "k", "-a", "mine", "-to", "30").parallel == 2


def test_bad_environment_values_are_argparse_errors(capsys):
    for env in ({"LLAMA_ARG_CTX_SIZE": "big"}, {"LLAMA_ARG_MMAP": "maybe"}):
        with pytest.raises(SystemExit) as e:
            parse("server", environ=env)
        assert e.value.code == 2
        assert next(iter(env)) in capsys.readouterr().err


def test_environment_names_are_llama_cpps():
    names = flags.env_names("server")
    for env, dest in {"LLAMA_ARG_CTX_SIZE": "ctx_size", "LLAMA_ARG_HOST": "host", "LLAMA_ARG_PORT": "port",
                      "LLAMA_ARG_N_PARALLEL": "parallel", "LLAMA_ARG_THREADS": "threads", "LLAMA_ARG_BATCH":
                      "batch_size", "LLAMA_ARG_N_PREDICT": "n_predict", "LLAMA_ARG_N_GPU_LAYERS": "gpu_layers",
                      "LLAMA_ARG_HF_REPO": "hf_repo", "LLAMA_ARG_CACHE_TYPE_K": "cache_type_k",
                      "LLAMA_API_KEY": "api_key", "LLAMA_ARG_EMBEDDINGS": "embedding"}.items():  # fmt: skip
        assert names[env] == dest
    assert flags.env_names("bench") == {}  # llama-bench reads none


def test_options_that_do_nothing_here_are_said_once(monkeypatch):
    monkeypatch.setattr(flags, "_said", set())
    err = io.StringIO()
    a = parse_cli("-ngl", "32", "--mlock", "--no-mmap", "-fa", "-c", "256")
    lines = flags.report_no_effect(a, flags.CLI, err)
    assert len(lines) == 4 and err.getvalue().count("has no effect") == 4
    assert any(line.startswith("llamacore: -ngl/--gpu-layers/--n-gpu-layers has no effect") for line in lines)
    assert any("--no-mmap" in line for line in lines)
    assert flags.report_no_effect(a, flags.CLI, err) == []  # once
    assert flags.report_no_effect(parse_cli("-c", "256"), flags.CLI, err) == []


def test_run_and_chat_take_the_same_options():
    for module in (run, chat):
        a = parse_cli("-m", "x.gguf", "-cnv", "-ngl", "1", "--color", "-r", "User:", "-i", module=module)
        assert (a.model_option, a.conversation, a.color, a.reverse_prompt) == ("x.gguf", True, "on", ["User:"])
    assert parse_cli("--raw", "--stop", "x", module=run).stop == ["x"]


def test_modes():
    def mode(*argv, default=cli.AUTO, template=True, prompt=None):
        return cli.choose_mode(parse_cli(*argv), default, template, prompt)

    assert mode() == cli.CONVERSATION  # llama-cli: a chat model and no prompt
    assert mode(prompt="hi") == cli.SINGLE  # with -p: one answer (scripts never wait for input)
    assert mode(template=False) == cli.SINGLE
    assert mode("-cnv", prompt="hi") == mode("-cnv", template=False) == cli.CONVERSATION
    assert mode("-i") == mode("-if", prompt="x") == cli.INTERACTIVE
    assert mode("-no-cnv") == cli.SINGLE
    assert mode(default=cli.SINGLE) == cli.SINGLE and mode(default=cli.CONVERSATION, prompt="x") == cli.CONVERSATION


def test_text_options():
    assert common.unescape(r"a\nb\tc\\n\'\"\x41\q") == "a\nb\tc\\n'\"A\\q"
    a = parse_cli("-p", r"Q:\nA:", "-r", r"\nUser:")
    assert common.prompt_text(a) == "Q:\nA:" and common.reverse_prompts(a) == ["\nUser:"]
    assert common.prompt_text(parse_cli("-p", r"a\nb", "--no-escape")) == r"a\nb"
    assert common.model_spec(parse_cli()) == common.DEFAULT_MODEL
    assert common.model_spec(parse_cli("-hf", "org/repo:Q8_0")) == "hf:org/repo:Q8_0"
    for argv in (["a.gguf", "-m", "b.gguf"], ["-hff", "x.gguf"], ["a.gguf", "-hf", "org/repo"]):
        with pytest.raises(ValueError):
            common.model_spec(parse_cli(*argv))
    assert common.chat_format(parse_cli("--chat-template", "llama3")) == ("llama-3", None)
    assert common.chat_format(parse_cli("--chat-template", "{{ messages }}")) == (None, "{{ messages }}")


def test_help_lists_only_commands_that_work():
    r = subprocess.run([sys.executable, "-m", "llamacore", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    listed = {m[1] for line in r.stdout.splitlines() if (m := re.match(r"^    (\S+)  ", line))}
    from llamacore import cli as top

    assert listed == set(top.available())
    assert {"cli", "run", "chat", "info", "pull", "tokenize"} <= listed
    for name in listed:  # each one listed has its module
        assert __import__(top.COMMANDS[name][0], fromlist=["main"]).main
    for name in set(top.COMMANDS) - listed:
        r = subprocess.run([sys.executable, "-m", "llamacore", name], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "invalid choice" in r.stderr


def test_unknown_option_exits_2():
    r = subprocess.run([sys.executable, "-m", "llamacore", "run", "-p", "hi", "--definitely-not-an-option"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2 and "unrecognized arguments: --definitely-not-an-option" in r.stderr


def test_underscore_spellings_and_older_options():
    """llama.cpp reads '_' in a long option as '-' (`--repeat_penalty`, from the early tutorials)."""
    a = parse_cli("--repeat_penalty", "1.1", "--ctx_size", "512", "--n_predict", "5", "--top_k", "10", "--keep", "48",
                  "--batch_size", "1024", "--no_display_prompt", "-mli", "--no-warmup", "--simple-io")  # fmt: skip
    assert (a.repeat_penalty, a.ctx_size, a.n_predict, a.top_k, a.keep) == (1.1, 512, 5, 10, 48)
    assert (a.batch_size, a.display_prompt, a.multiline_input, a.warmup) == (1024, False, True, False)
    assert parse_cli("-p", "--not_an_option").prompt == "--not_an_option"  # a value stays as it is


def test_options_llamacore_cannot_honour_yet_are_errors():
    for argv, name in ((["--lora", "a.gguf"], "--lora"), (["--mmproj", "p.gguf"], "--mmproj"),
                       (["--rope-freq-base", "1e6"], "--rope-freq-base")):  # fmt: skip
        with pytest.raises(NotImplementedError, match=name):
            flags.check_supported(parse_cli(*argv), flags.CLI)
    flags.check_supported(parse_cli("-ngl", "99", "--mlock"), flags.CLI)  # accepted: said, not refused


def test_dry_xtc_top_n_sigma_and_sampler_order_options():
    a = parse_cli("--dry-multiplier", "0.8", "--dry-base", "2", "--dry-allowed-length", "3", "--dry-penalty-last-n",
                  "64", "--dry-sequence-breaker", "\\n", "--dry-sequence-breaker", ":", "--xtc-probability", "0.5",
                  "--xtc-threshold", "0.2", "--top-nsigma", "1.5", "--sampling-seq", "kt")  # fmt: skip
    kw = common.sampling_kwargs(a)
    assert (kw["dry_multiplier"], kw["dry_base"], kw["dry_allowed_length"], kw["dry_penalty_last_n"]) == (0.8, 2, 3, 64)
    assert kw["dry_sequence_breakers"] == ["\\n", ":"]
    assert (kw["xtc_probability"], kw["xtc_threshold"], kw["top_n_sigma"]) == (0.5, 0.2, 1.5)
    assert kw["samplers"] == "top_k;temperature"
    assert common.sampling_kwargs(parse_cli("--samplers", "min_p;temperature"))["samplers"] == "min_p;temperature"
    assert common.sampling_kwargs(parse_cli("--dry-sequence-breaker", "none"))["dry_sequence_breakers"] == []
    with pytest.raises(ValueError, match="sampling-seq"):
        common.sampling_kwargs(parse_cli("--sampling-seq", "kq"))


def test_logit_bias_and_mirostat_options():
    a = parse_cli("-l", "15043+1", "-l", "7-inf", "--logit-bias", "3-0.5", "--mirostat-lr", "0.2", "--mirostat-ent",
                  "4", "--mirostat", "2")  # fmt: skip
    assert common.logit_bias(a) == {15043: 1.0, 7: float("-inf"), 3: -0.5}
    kw = common.sampling_kwargs(a)
    assert (kw["mirostat_mode"], kw["mirostat_eta"], kw["mirostat_tau"]) == (2, 0.2, 4.0)
    for bad in ("abc", "12", "12*3", "1+x"):
        with pytest.raises(ValueError, match="logit-bias"):
            common.logit_bias(parse_cli("-l", bad))


def test_a_model_on_the_command_line_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("LLAMA_ARG_MODEL", "env.gguf")
    assert common.model_spec(parse_cli("cmd.gguf")) == "cmd.gguf"
    assert common.model_spec(parse_cli()) == "env.gguf"
    assert common.model_spec(parse_cli("-hf", "org/repo")) == "hf:org/repo"
    monkeypatch.setenv("LLAMA_ARG_HF_REPO", "org/env")
    monkeypatch.delenv("LLAMA_ARG_MODEL")
    assert common.model_spec(parse_cli("-m", "cmd.gguf")) == "cmd.gguf"
    assert common.model_spec(parse_cli()) == "hf:org/env"


def test_chat_template_kwargs():
    a = parse_cli("--chat-template-kwargs", '{"enable_thinking": false}')
    assert common.template_kwargs(a) == {"chat_template_kwargs": {"enable_thinking": False}}
    assert common.template_kwargs(parse_cli()) == {}
    for bad in ("{oops", "[1]"):
        with pytest.raises(ValueError, match="chat-template-kwargs"):
            common.template_kwargs(parse_cli("--chat-template-kwargs", bad))
