// Shell completion scripts, generated from the same command declarations as
// the parser, so a new option is offered as soon as it is accepted.

/// The shells `vigil completion SHELL` writes a script for.
public enum CompletionShell: String, Sendable, CaseIterable {
    case bash, zsh, fish
}

/// Completion scripts for a program and its commands.
public struct CompletionScript: Sendable {
    /// The program name, `vigil`.
    public var program: String
    /// Its commands, with their options.
    public var commands: [CommandSpec]
    /// Words accepted after the program that are not in `commands` (`help`).
    public var extraWords: [String]

    /// Creates a generator.
    public init(program: String, commands: [CommandSpec], extraWords: [String] = []) {
        self.program = program
        self.commands = commands
        self.extraWords = extraWords
    }

    /// The script for `shell`, to be sourced (`source <(vigil completion bash)`).
    public func script(for shell: CompletionShell) -> String {
        switch shell {
        case .bash: return bash
        case .zsh: return zsh
        case .fish: return fish
        }
    }

    private var function: String { "_" + program.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined() }

    // MARK: - bash

    private var bash: String {
        var s = """
        # bash completion for \(program); load with: source <(\(program) completion bash)
        \(function)() {
            local cur prev
            cur="${COMP_WORDS[COMP_CWORD]}"
            prev="${COMP_WORDS[COMP_CWORD-1]}"
            if [ "$COMP_CWORD" -eq 1 ]; then
                COMPREPLY=( $(compgen -W "\((commands.map(\.name) + extraWords).joined(separator: " "))" -- "$cur") )
                return 0
            fi
            case "${COMP_WORDS[1]}" in

        """
        for command in commands {
            s += "        \(command.name))\n            case \"$prev\" in\n"
            for option in command.options {
                guard option.value != .none else { continue }
                s += "                --\(option.name)) \(bashAction(option)); return 0 ;;\n"
            }
            s += "            esac\n"
            let words = command.options.map { "--\($0.name)" } + ["--help"]
            s += "            COMPREPLY=( $(compgen -W \"\(words.joined(separator: " "))\" -- \"$cur\") )\n"
            s += "            ;;\n"
        }
        s += """
            esac
            return 0
        }
        complete -o default -F \(function) \(program)

        """
        return s
    }

    private func bashAction(_ option: OptionSpec) -> String {
        if !option.choices.isEmpty {
            return "COMPREPLY=( $(compgen -W \"\(option.choices.joined(separator: " "))\" -- \"$cur\") )"
        }
        switch option.completion {
        case .none: return "COMPREPLY=()"
        case .file: return "COMPREPLY=( $(compgen -f -- \"$cur\") )"
        case .directory: return "COMPREPLY=( $(compgen -d -- \"$cur\") )"
        case .command: return "COMPREPLY=( $(compgen -c -- \"$cur\") )"
        }
    }

    // MARK: - zsh

    private var zsh: String {
        var s = """
        #compdef \(program)
        # zsh completion for \(program); load with: source <(\(program) completion zsh)
        \(function)() {
            local -a commands
            commands=(

        """
        for command in commands {
            s += "        '\(command.name):\(zshEscape(command.summary))'\n"
        }
        for word in extraWords { s += "        '\(word):'\n" }
        s += """
            )
            if (( CURRENT == 2 )); then
                _describe 'command' commands
                return
            fi
            local command=$words[2]
            shift words
            (( CURRENT-- ))
            case $command in

        """
        for command in commands {
            s += "        \(command.name))\n            _arguments \\\n"
            for option in command.options {
                let star = option.repeatable ? "*" : ""
                switch option.value {
                case .none:
                    s += "                '\(star)--\(option.name)[\(zshEscape(option.help))]' \\\n"
                case .required(let v), .optional(let v):
                    s += "                '\(star)--\(option.name)=[\(zshEscape(option.help))]:\(zshEscape(v.lowercased())):\(zshAction(option))' \\\n"
                }
            }
            s += "                '(-h --help)'{-h,--help}'[print help]'"
            if command.acceptsPositionals { s += " \\\n                '*:\(zshEscape(command.positionals.lowercased())): '" }
            s += "\n            ;;\n"
        }
        s += """
            esac
        }
        if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
            \(function) "$@"
        else
            compdef \(function) \(program)
        fi

        """
        return s
    }

    private func zshAction(_ option: OptionSpec) -> String {
        if !option.choices.isEmpty { return "(\(option.choices.joined(separator: " ")))" }
        switch option.completion {
        case .none: return " "
        case .file: return "_files"
        case .directory: return "_files -/"
        case .command: return "_command_names -e"
        }
    }

    private func zshEscape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "'": out += "'\\''"
            case "[", "]", ":", "\\": out += "\\" + String(ch)
            default: out.append(ch)
            }
        }
        return out
    }

    // MARK: - fish

    private var fish: String {
        var s = "# fish completion for \(program); load with: \(program) completion fish | source\n"
        s += "complete -c \(program) -f\n"
        for command in commands {
            s += "complete -c \(program) -n '__fish_use_subcommand' -a \(command.name) -d '\(fishEscape(command.summary))'\n"
        }
        for word in extraWords {
            s += "complete -c \(program) -n '__fish_use_subcommand' -a \(word)\n"
        }
        for command in commands {
            let condition = "-n '__fish_seen_subcommand_from \(command.name)'"
            for option in command.options {
                var line = "complete -c \(program) \(condition) -l \(option.name)"
                if option.value != .none {
                    if !option.choices.isEmpty {
                        line += " -x -a '\(option.choices.joined(separator: " "))'"
                    } else {
                        switch option.completion {
                        case .none: line += " -x"
                        case .file: line += " -r -F"
                        case .directory: line += " -x -a '(__fish_complete_directories)'"
                        case .command: line += " -x -a '(__fish_complete_command)'"
                        }
                    }
                }
                line += " -d '\(fishEscape(option.help))'"
                s += line + "\n"
            }
        }
        return s
    }

    private func fishEscape(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch == "\\" || ch == "'" { out.append("\\") }
            out.append(ch)
        }
        return out
    }
}
