"""The hosts of the real-world corpus: invented names and documentation addresses (RFC 5737),
each with the traits its platform has. Pairs (…A/…B) share every trait that matters, so a
failure on one may be warned about on the other; hosts of newer releases are where it works."""

from __future__ import annotations

from typing import Any

_PS = {"shell_type": "powershell"}
_CMD = {"shell_type": "cmd"}
_APT = {"shell_type": "bash", "package_manager": "apt", "init_system": "systemd"}
_YUM = {"shell_type": "bash", "package_manager": "yum", "init_system": "systemd"}

HOSTS: dict[str, tuple[str, dict[str, Any]]] = {
    # Windows PowerShell 2.0 - 5.1 and PowerShell 7
    "RW-W08A": (
        "Alder Dental",
        {**_PS, "os": "Windows Server", "os_version": "2008 R2 SP1", "powershell_version": "2.0"},
    ),
    "RW-W08B": (
        "Birch Logistics",
        {**_PS, "os": "Windows Server", "os_version": "2008 R2 SP1", "powershell_version": "2.0"},
    ),
    "RW-W7A": ("Alder Dental", {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "2.0"}),
    "RW-W7B": ("Cedar Law", {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "2.0"}),
    "RW-W12A": (
        "Birch Logistics",
        {**_PS, "os": "Windows Server", "os_version": "2012", "powershell_version": "3.0"},
    ),
    "RW-W12B": (
        "Cedar Law",
        {**_PS, "os": "Windows Server", "os_version": "2012", "powershell_version": "3.0"},
    ),
    "RW-W12R2A": (
        "Cedar Law",
        {**_PS, "os": "Windows Server", "os_version": "2012 R2", "powershell_version": "4.0"},
    ),
    "RW-W12R2B": (
        "Alder Dental",
        {**_PS, "os": "Windows Server", "os_version": "2012 R2", "powershell_version": "4.0"},
    ),
    "RW-W16A": (
        "Birch Logistics",
        {**_PS, "os": "Windows Server", "os_version": "2016", "powershell_version": "5.1"},
    ),
    "RW-W16B": (
        "Cedar Law",
        {**_PS, "os": "Windows Server", "os_version": "2016", "powershell_version": "5.1"},
    ),
    "RW-W19A": (
        "Alder Dental",
        {**_PS, "os": "Windows Server", "os_version": "2019", "powershell_version": "5.1"},
    ),
    "RW-W10A": ("Cedar Law", {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1"}),
    "RW-W10B": (
        "Birch Logistics",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1"},
    ),
    "RW-W10DE": (
        "Dachs Bau",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1", "locale": "de-DE"},
    ),
    "RW-W10DE2": (
        "Dachs Bau",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1", "locale": "de-DE"},
    ),
    "RW-W10FR": (
        "Erable Conseil",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1", "locale": "fr-FR"},
    ),
    "RW-W11ES": (
        "Fresno Clinica",
        {**_PS, "os": "Windows", "os_version": "11 23H2", "powershell_version": "5.1", "locale": "es-ES"},
    ),
    "RW-W10ZH": (
        "Ginkgo Trading",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "5.1", "locale": "zh-CN"},
    ),
    "RW-P70": ("Cedar Law", {**_PS, "os": "Windows", "os_version": "10 1909", "powershell_version": "7.0.0"}),
    "RW-P70B": (
        "Erable Conseil",
        {**_PS, "os": "Windows", "os_version": "10 1909", "powershell_version": "7.0.0"},
    ),
    "RW-P7A": (
        "Alder Dental",
        {**_PS, "os": "Windows Server", "os_version": "2022", "powershell_version": "7.4"},
    ),
    "RW-P7B": (
        "Birch Logistics",
        {**_PS, "os": "Windows", "os_version": "11 23H2", "powershell_version": "7.3"},
    ),
    # cmd.exe
    "RW-C10A": ("Cedar Law", {**_CMD, "os": "Windows", "os_version": "10 22H2"}),
    "RW-C10B": ("Alder Dental", {**_CMD, "os": "Windows", "os_version": "10 22H2"}),
    "RW-C19": ("Birch Logistics", {**_CMD, "os": "Windows Server", "os_version": "2019"}),
    "RW-C16": ("Alder Dental", {**_CMD, "os": "Windows Server", "os_version": "2016"}),
    "RW-C10ZH": ("Ginkgo Trading", {**_CMD, "os": "Windows", "os_version": "10 22H2", "locale": "zh-CN"}),
    "RW-C08": ("Cedar Law", {**_CMD, "os": "Windows Server", "os_version": "2008 R2 SP1"}),
    "RW-C08B": ("Birch Logistics", {**_CMD, "os": "Windows Server", "os_version": "2008 R2 SP1"}),
    "RW-C03": (
        "Cedar Law",
        {"shell_type": "cmd", "os": "Windows Server", "os_version": "2003 x64", "robocopy": "XP010"},
    ),
    "RW-C03B": (
        "Alder Dental",
        {"shell_type": "cmd", "os": "Windows Server", "os_version": "2003 x64", "robocopy": "XP010"},
    ),
    "RW-C10DE": ("Dachs Bau", {**_CMD, "os": "Windows", "os_version": "10 22H2", "locale": "de-DE"}),
    # BusyBox / Alpine / OpenWrt
    "RW-ALP18A": (
        "Birch Logistics",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.18",
            "package_manager": "apk",
            "busybox": "1.36.1",
        },
    ),
    "RW-ALP18B": (
        "Cedar Law",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.18",
            "package_manager": "apk",
            "busybox": "1.36.1",
        },
    ),
    "RW-ALP7": (
        "Cedar Law",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.7",
            "package_manager": "apk",
            "busybox": "1.27.2",
        },
    ),
    "RW-ALP7B": (
        "Alder Dental",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.7",
            "package_manager": "apk",
            "busybox": "1.27.2",
        },
    ),
    "RW-ALP12B": (
        "Erable Conseil",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.12",
            "package_manager": "apk",
            "busybox": "1.31.1",
        },
    ),
    "RW-ALP12": (
        "Alder Dental",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.12",
            "package_manager": "apk",
            "busybox": "1.31.1",
        },
    ),
    "RW-OWRT": (
        "Alder Dental",
        {
            "shell_type": "ash",
            "os": "OpenWrt",
            "os_version": "23.05",
            "package_manager": "opkg",
            "busybox": "1.36.1",
        },
    ),
    # macOS and the BSDs
    "RW-OWRT19": (
        "Cedar Law",
        {
            "shell_type": "ash",
            "os": "OpenWrt",
            "os_version": "19.07",
            "package_manager": "opkg",
            "busybox": "1.30.1",
        },
    ),
    "RW-NAS": (
        "Birch Logistics",
        {"shell_type": "sh", "os": "Zyxel NAS (fun_plug)", "os_version": "5.21", "busybox": "1.20.2"},
    ),
    "RW-DDWRT": (
        "Erable Conseil",
        {"shell_type": "sh", "os": "DD-WRT", "os_version": "r40559", "busybox": True},
    ),
    "RW-MAC13": (
        "Cedar Law",
        {"shell_type": "zsh", "os": "macOS", "os_version": "13.6", "package_manager": "brew"},
    ),
    "RW-MAC13B": (
        "Birch Logistics",
        {"shell_type": "zsh", "os": "macOS", "os_version": "13.6", "package_manager": "brew"},
    ),
    "RW-MAC15": (
        "Alder Dental",
        {"shell_type": "zsh", "os": "macOS", "os_version": "15.6", "package_manager": "brew"},
    ),
    "RW-MAC15B": (
        "Erable Conseil",
        {"shell_type": "zsh", "os": "macOS", "os_version": "15.6", "package_manager": "brew"},
    ),
    "RW-MAC10": ("Alder Dental", {"shell_type": "bash", "os": "macOS", "os_version": "10.15.7"}),
    "RW-MAC10B": ("Cedar Law", {"shell_type": "bash", "os": "macOS", "os_version": "10.12.6"}),
    "RW-FBSD": (
        "Erable Conseil",
        {"shell_type": "tcsh", "os": "FreeBSD", "os_version": "13.2", "package_manager": "pkg"},
    ),
    "RW-FBSDB": (
        "Cedar Law",
        {"shell_type": "tcsh", "os": "FreeBSD", "os_version": "13.2", "package_manager": "pkg"},
    ),
    "RW-PFS": (
        "Erable Conseil",
        {
            "shell_type": "tcsh",
            "os": "pfSense",
            "os_version": "2.7.2",
            "package_manager": "pkg",
            "role": "firewall",
        },
    ),
    # RHEL family
    "RW-C6A": (
        "Birch Logistics",
        {
            **_YUM,
            "os": "CentOS",
            "os_version": "6.10",
            "init_system": "upstart",
            "coreutils": "8.4",
            "git_version": "1.7.1",
        },
    ),
    "RW-C6B": (
        "Cedar Law",
        {
            **_YUM,
            "os": "CentOS",
            "os_version": "6.10",
            "init_system": "upstart",
            "coreutils": "8.4",
            "git_version": "1.7.1",
        },
    ),
    "RW-C7A": (
        "Alder Dental",
        {**_YUM, "os": "CentOS", "os_version": "7.9", "curl_version": "7.29.0", "git_version": "1.8.3.1"},
    ),
    "RW-C7B": (
        "Birch Logistics",
        {**_YUM, "os": "CentOS", "os_version": "7.9", "curl_version": "7.29.0", "git_version": "1.8.3.1"},
    ),
    "RW-C8": ("Alder Dental", {**_YUM, "os": "CentOS", "os_version": "8.1", "package_manager": "dnf"}),
    "RW-C8B": ("Erable Conseil", {**_YUM, "os": "CentOS", "os_version": "8.1", "package_manager": "dnf"}),
    "RW-R9": (
        "Cedar Law",
        {
            "shell_type": "bash",
            "os": "Rocky Linux",
            "os_version": "9.3",
            "package_manager": "dnf",
            "init_system": "systemd",
        },
    ),
    # Ubuntu / Debian
    "RW-U14": ("Cedar Law", {**_APT, "os": "Ubuntu", "os_version": "14.04", "init_system": "upstart"}),
    "RW-FCOS": (
        "Erable Conseil",
        {
            "shell_type": "bash",
            "os": "Fedora CoreOS",
            "os_version": "30",
            "init_system": "systemd",
            "package_manager": "rpm-ostree",
        },
    ),
    "RW-U18": ("Alder Dental", {**_APT, "os": "Ubuntu", "os_version": "18.04"}),
    "RW-U16": ("Ginkgo Trading", {**_APT, "os": "Ubuntu", "os_version": "16.04"}),
    "RW-U20A": ("Birch Logistics", {**_APT, "os": "Ubuntu", "os_version": "20.04"}),
    "RW-U20B": ("Cedar Law", {**_APT, "os": "Ubuntu", "os_version": "20.04"}),
    "RW-U22A": ("Alder Dental", {**_APT, "os": "Ubuntu", "os_version": "22.04"}),
    "RW-U22B": ("Birch Logistics", {**_APT, "os": "Ubuntu", "os_version": "22.04"}),
    "RW-U24A": ("Cedar Law", {**_APT, "os": "Ubuntu", "os_version": "24.04"}),
    "RW-U24B": ("Alder Dental", {**_APT, "os": "Ubuntu", "os_version": "24.04"}),
    "RW-D11": ("Birch Logistics", {**_APT, "os": "Debian", "os_version": "11"}),
    "RW-D11B": ("Cedar Law", {**_APT, "os": "Debian", "os_version": "11"}),
    "RW-D12A": ("Cedar Law", {**_APT, "os": "Debian", "os_version": "12"}),
    "RW-D12B": ("Alder Dental", {**_APT, "os": "Debian", "os_version": "12"}),
    "RW-WSL": (
        "Erable Conseil",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "22.04",
            "init_system": "none (WSL init)",
            "virtualization": "wsl2",
        },
    ),
    "RW-WSL2": (
        "Cedar Law",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "22.04",
            "init_system": "none (WSL init)",
            "virtualization": "wsl2",
        },
    ),
    # network devices
    "RW-ASA1": (
        "Birch Logistics",
        {"shell_type": "asa-cli", "os": "Cisco ASA", "os_version": "9.8(4)", "role": "firewall"},
    ),
    "RW-ASA2": (
        "Cedar Law",
        {"shell_type": "asa-cli", "os": "Cisco ASA", "os_version": "9.8(4)", "role": "firewall"},
    ),
    "RW-ASA82": (
        "Erable Conseil",
        {"shell_type": "asa-cli", "os": "Cisco ASA", "os_version": "8.2(5)", "role": "firewall"},
    ),
    "RW-ASA82B": (
        "Alder Dental",
        {"shell_type": "asa-cli", "os": "Cisco ASA", "os_version": "8.2(5)", "role": "firewall"},
    ),
    "RW-IOS1": (
        "Alder Dental",
        {"shell_type": "ios-cli", "os": "Cisco IOS", "os_version": "15.2(4)E", "role": "switch"},
    ),
    "RW-IOS2": (
        "Birch Logistics",
        {"shell_type": "ios-cli", "os": "Cisco IOS", "os_version": "15.2(4)E", "role": "switch"},
    ),
    "RW-ROS6": (
        "Erable Conseil",
        {"shell_type": "routeros-cli", "os": "RouterOS", "os_version": "6.49.10", "role": "router"},
    ),
    "RW-ROS6B": (
        "Cedar Law",
        {"shell_type": "routeros-cli", "os": "RouterOS", "os_version": "6.49.10", "role": "router"},
    ),
    "RW-CHR7": (
        "Birch Logistics",
        {
            "shell_type": "routeros-cli",
            "os": "RouterOS",
            "os_version": "7.15",
            "model": "CHR",
            "role": "router",
        },
    ),
    "RW-CHR7B": (
        "Erable Conseil",
        {
            "shell_type": "routeros-cli",
            "os": "RouterOS",
            "os_version": "7.15",
            "model": "CHR",
            "role": "router",
        },
    ),
    "RW-ROS7": (
        "Alder Dental",
        {
            "shell_type": "routeros-cli",
            "os": "RouterOS",
            "os_version": "7.14",
            "model": "RB5009",
            "role": "router",
        },
    ),
    # containers and clusters
    "RW-DKA": ("Cedar Law", {**_APT, "os": "Ubuntu", "os_version": "22.04", "docker_version": "24.0.7"}),
    "RW-DKB": ("Alder Dental", {**_APT, "os": "Ubuntu", "os_version": "22.04", "docker_version": "24.0.7"}),
    "RW-DKC": ("Erable Conseil", {**_APT, "os": "Ubuntu", "os_version": "22.04", "docker_version": "24.0.7"}),
    "RW-DKOLD": (
        "Birch Logistics",
        {
            **_YUM,
            "os": "CentOS",
            "os_version": "7.9",
            "docker_version": "1.13.1",
            "docker_compose_version": "1.18.0",
        },
    ),
    "RW-K8S": (
        "Erable Conseil",
        {**_APT, "os": "Ubuntu", "os_version": "22.04", "kubectl_version": "1.29.1"},
    ),
    "RW-K8SB": ("Cedar Law", {**_APT, "os": "Ubuntu", "os_version": "22.04", "kubectl_version": "1.29.1"}),
    "RW-K8SOLD": (
        "Birch Logistics",
        {**_APT, "os": "Ubuntu", "os_version": "20.04", "kubectl_version": "1.25.4"},
    ),
    # databases (the client shell of the server)
    "RW-MY57": (
        "Alder Dental",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "18.04",
            "database": "mysql",
            "db_version": "5.7.44",
        },
    ),
    "RW-MY57B": (
        "Cedar Law",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "18.04",
            "database": "mysql",
            "db_version": "5.7.44",
        },
    ),
    "RW-MY80": (
        "Birch Logistics",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "22.04",
            "database": "mysql",
            "db_version": "8.0.36",
        },
    ),
    "RW-MY80B": (
        "Erable Conseil",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "22.04",
            "database": "mysql",
            "db_version": "8.0.36",
        },
    ),
    "RW-MDB": (
        "Cedar Law",
        {
            "shell_type": "mysql",
            "os": "Debian",
            "os_version": "12",
            "database": "mariadb",
            "db_version": "10.11.6",
        },
    ),
    "RW-MDB2": (
        "Birch Logistics",
        {
            "shell_type": "mysql",
            "os": "Debian",
            "os_version": "12",
            "database": "mariadb",
            "db_version": "10.11.6",
        },
    ),
    "RW-MDB101": (
        "Alder Dental",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "18.04",
            "database": "mariadb",
            "db_version": "10.1.48",
        },
    ),
    "RW-MDB101B": (
        "Erable Conseil",
        {
            "shell_type": "mysql",
            "os": "Ubuntu",
            "os_version": "18.04",
            "database": "mariadb",
            "db_version": "10.1.48",
        },
    ),
    "RW-PG96": (
        "Alder Dental",
        {
            "shell_type": "psql",
            "os": "CentOS",
            "os_version": "7.9",
            "database": "postgresql",
            "db_version": "9.6.24",
        },
    ),
    "RW-PG96B": (
        "Erable Conseil",
        {
            "shell_type": "psql",
            "os": "CentOS",
            "os_version": "7.9",
            "database": "postgresql",
            "db_version": "9.6.24",
        },
    ),
    "RW-PG94": (
        "Cedar Law",
        {
            "shell_type": "psql",
            "os": "Ubuntu",
            "os_version": "16.04",
            "database": "postgresql",
            "db_version": "9.4.8",
        },
    ),
    "RW-PG94B": (
        "Birch Logistics",
        {
            "shell_type": "psql",
            "os": "Ubuntu",
            "os_version": "16.04",
            "database": "postgresql",
            "db_version": "9.4.8",
        },
    ),
    "RW-PG95": (
        "Erable Conseil",
        {
            "shell_type": "psql",
            "os": "Debian",
            "os_version": "9",
            "database": "postgresql",
            "db_version": "9.5.24",
        },
    ),
    "RW-PG95B": (
        "Alder Dental",
        {
            "shell_type": "psql",
            "os": "Debian",
            "os_version": "9",
            "database": "postgresql",
            "db_version": "9.5.24",
        },
    ),
    "RW-PG16": (
        "Birch Logistics",
        {
            "shell_type": "psql",
            "os": "Debian",
            "os_version": "12",
            "database": "postgresql",
            "db_version": "16.2",
        },
    ),
    "RW-SQL12": (
        "Cedar Law",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2012 R2",
            "database": "mssql",
            "db_version": "SQL Server 2012 (11.0.7507)",
        },
    ),
    "RW-SQL12B": (
        "Alder Dental",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2012 R2",
            "database": "mssql",
            "db_version": "SQL Server 2012 (11.0.7507)",
        },
    ),
    "RW-SQL08": (
        "Birch Logistics",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2008 R2 SP1",
            "database": "mssql",
            "db_version": "SQL Server 2008 R2 (10.50.6000)",
        },
    ),
    "RW-SQL08B": (
        "Erable Conseil",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2008 R2 SP1",
            "database": "mssql",
            "db_version": "SQL Server 2008 R2 (10.50.6000)",
        },
    ),
    "RW-SQL05": (
        "Cedar Law",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2003 R2",
            "database": "mssql",
            "db_version": "SQL Server 2005 (9.00.5000)",
        },
    ),
    "RW-SQL05B": (
        "Birch Logistics",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2003 R2",
            "database": "mssql",
            "db_version": "SQL Server 2005 (9.00.5000)",
        },
    ),
    "RW-SQL16A": (
        "Alder Dental",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2016",
            "database": "mssql",
            "db_version": "SQL Server 2016 SP3 (13.0.6300)",
        },
    ),
    "RW-SQL16B": (
        "Cedar Law",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2016",
            "database": "mssql",
            "db_version": "SQL Server 2016 SP3 (13.0.6300)",
        },
    ),
    "RW-SQL19": (
        "Birch Logistics",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2019",
            "database": "mssql",
            "db_version": "SQL Server 2019 (15.0.4355)",
        },
    ),
    # added with the second batch of cases: the platforms their sources name
    "RW-ALP3A": (
        "Cedar Law",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.3",
            "package_manager": "apk",
            "busybox": "1.24.1",
        },
    ),
    "RW-ALP3B": (
        "Birch Logistics",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.3",
            "package_manager": "apk",
            "busybox": "1.24.1",
        },
    ),
    "RW-ALP2": (
        "Alder Dental",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.2",
            "package_manager": "apk",
            "busybox": "1.23.2",
        },
    ),
    "RW-ALP10A": (
        "Alder Dental",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.10",
            "package_manager": "apk",
            "busybox": "1.30.1",
        },
    ),
    "RW-ALP10B": (
        "Cedar Law",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.10",
            "package_manager": "apk",
            "busybox": "1.30.1",
        },
    ),
    "RW-ALP20A": (
        "Birch Logistics",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.20",
            "package_manager": "apk",
            "busybox": "1.36.1",
        },
    ),
    "RW-ALP20B": (
        "Alder Dental",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.20",
            "package_manager": "apk",
            "busybox": "1.36.1",
        },
    ),
    "RW-C5A": (
        "Cedar Law",
        {**_YUM, "os": "CentOS", "os_version": "5.4", "init_system": "sysvinit", "coreutils": "5.97"},
    ),
    "RW-C5B": (
        "Alder Dental",
        {**_YUM, "os": "CentOS", "os_version": "5.4", "init_system": "sysvinit", "coreutils": "5.97"},
    ),
    "RW-MACK8S": (
        "Cedar Law",
        {
            "shell_type": "zsh",
            "os": "macOS",
            "os_version": "11.5",
            "package_manager": "brew",
            "kubectl_version": "1.22.0",
        },
    ),
    "RW-MACK8SB": (
        "Birch Logistics",
        {
            "shell_type": "zsh",
            "os": "macOS",
            "os_version": "11.5",
            "package_manager": "brew",
            "kubectl_version": "1.22.0",
        },
    ),
    "RW-DKC25": (
        "Alder Dental",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "22.04",
            "docker_version": "27.5.1",
            "docker_compose_version": "2.5.0",
        },
    ),
    "RW-DKC25B": (
        "Birch Logistics",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "22.04",
            "docker_version": "27.5.1",
            "docker_compose_version": "2.5.0",
        },
    ),
    "RW-U16DC": (
        "Cedar Law",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "16.04",
            "docker_version": "1.12.6",
            "docker_compose_version": "1.8.0",
        },
    ),
    "RW-U16DCB": (
        "Birch Logistics",
        {
            **_APT,
            "os": "Ubuntu",
            "os_version": "16.04",
            "docker_version": "1.12.6",
            "docker_compose_version": "1.8.0",
        },
    ),
    "RW-PG84": (
        "Birch Logistics",
        {
            "shell_type": "psql",
            "os": "CentOS",
            "os_version": "6.10",
            "database": "postgresql",
            "db_version": "8.4.20",
        },
    ),
    "RW-PG84B": (
        "Cedar Law",
        {
            "shell_type": "psql",
            "os": "CentOS",
            "os_version": "6.10",
            "database": "postgresql",
            "db_version": "8.4.20",
        },
    ),
    "RW-IOS12A": (
        "Birch Logistics",
        {"shell_type": "ios-cli", "os": "Cisco IOS", "os_version": "12.2(58)SE2", "role": "switch"},
    ),
    "RW-IOS12B": (
        "Cedar Law",
        {"shell_type": "ios-cli", "os": "Cisco IOS", "os_version": "12.2(58)SE2", "role": "switch"},
    ),
    "RW-MAC1011": ("Alder Dental", {"shell_type": "bash", "os": "macOS", "os_version": "10.11.6"}),
    "RW-W22A": (
        "Cedar Law",
        {**_PS, "os": "Windows Server", "os_version": "2022", "powershell_version": "5.1"},
    ),
    "RW-W22B": (
        "Birch Logistics",
        {**_PS, "os": "Windows Server", "os_version": "2022", "powershell_version": "5.1"},
    ),
    "RW-JUN17": (
        "Alder Dental",
        {"shell_type": "junos-cli", "os": "Junos", "os_version": "17.2R1.13", "role": "router"},
    ),
    "RW-JUN17B": (
        "Cedar Law",
        {"shell_type": "junos-cli", "os": "Junos", "os_version": "17.2R1.13", "role": "router"},
    ),
    "RW-DKT": ("Dachs Bau", {**_APT, "os": "Ubuntu", "os_version": "22.04", "docker_version": "24.0.7"}),
    "RW-ALP22": (
        "Erable Conseil",
        {
            "shell_type": "sh",
            "os": "Alpine Linux",
            "os_version": "3.22",
            "package_manager": "apk",
            "busybox": "1.37.0",
        },
    ),
    "RW-P7FR": (
        "Erable Conseil",
        {**_PS, "os": "Windows", "os_version": "10 22H2", "powershell_version": "7.3", "locale": "fr-FR"},
    ),
    "RW-W7P3": (
        "Birch Logistics",
        {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "3.0"},
    ),
    "RW-W7P4": ("Cedar Law", {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "4.0"}),
    "RW-W7ZH": (
        "Ginkgo Trading",
        {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "2.0", "locale": "zh-CN"},
    ),
    "RW-W7FR": (
        "Erable Conseil",
        {**_PS, "os": "Windows", "os_version": "7 SP1", "powershell_version": "2.0", "locale": "fr-FR"},
    ),
    "RW-W81": ("Alder Dental", {**_PS, "os": "Windows", "os_version": "8.1", "powershell_version": "4.0"}),
    "RW-ARU1": (
        "Birch Logistics",
        {
            "shell_type": "arubaos-cli",
            "os": "ArubaOS-Switch",
            "os_version": "WC.16.10",
            "model": "2930F",
            "role": "switch",
        },
    ),
    "RW-ARU2": (
        "Cedar Law",
        {
            "shell_type": "arubaos-cli",
            "os": "ArubaOS-Switch",
            "os_version": "WC.16.10",
            "model": "2930F",
            "role": "switch",
        },
    ),
    "RW-DEBDK": (
        "Dachs Bau",
        {
            **_APT,
            "os": "Debian",
            "os_version": "11",
            "docker_version": "20.10.8",
            "docker_compose_version": "1.29.2",
        },
    ),
    "RW-DEBDKB": (
        "Cedar Law",
        {
            **_APT,
            "os": "Debian",
            "os_version": "11",
            "docker_version": "20.10.8",
            "docker_compose_version": "1.29.2",
        },
    ),
    "RW-D9": ("Birch Logistics", {**_APT, "os": "Debian", "os_version": "9"}),
    "RW-WDK": (
        "Alder Dental",
        {**_CMD, "os": "Windows Server", "os_version": "2019", "docker_version": "18.09.2"},
    ),
    "RW-SQL08ZH": (
        "Ginkgo Trading",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2008 R2 SP1",
            "database": "mssql",
            "db_version": "SQL Server 2008 R2 (10.50.2500)",
            "locale": "zh-CN",
        },
    ),
    "RW-SQL14": (
        "Cedar Law",
        {
            "shell_type": "sqlcmd",
            "os": "Windows Server",
            "os_version": "2012 R2",
            "database": "mssql",
            "db_version": "SQL Server 2014 (12.0.6024)",
        },
    ),
    "RW-ASA916": (
        "Dachs Bau",
        {"shell_type": "asa-cli", "os": "Cisco ASA", "os_version": "9.16(2)", "role": "firewall"},
    ),
    "RW-MAC1014": ("Birch Logistics", {"shell_type": "bash", "os": "macOS", "os_version": "10.14.0"}),
    "RW-U1904": ("Alder Dental", {**_APT, "os": "Ubuntu", "os_version": "19.04"}),
    "RW-U2304ZH": ("Ginkgo Trading", {**_APT, "os": "Ubuntu", "os_version": "23.04", "locale": "zh-CN"}),
}

# What each platform answers to the baseline commands every host first runs (successes).
BASELINE: dict[str, list[tuple[str, str]]] = {
    "powershell": [
        ("$PSVersionTable.PSVersion", "Major  Minor\n-----  -----"),
        ("Get-Service Spooler", "Running  Spooler"),
    ],
    "cmd": [("hostname", "{host}"), ("ver", "Microsoft Windows [Version 10.0.19045.3803]")],
    "sh": [
        ("uptime", " 09:02:11 up 41 days,  3:12,  load average: 0.08"),
        ("df -h /", "Filesystem Size Used Avail Use% Mounted on"),
    ],
    "mysql": [
        ("SELECT VERSION();", "+-----------+\n| VERSION() |"),
        ("SHOW DATABASES;", "+--------------------+\n| Database |"),
    ],
    "psql": [("SELECT version();", " version\n---------"), ("SELECT 1;", " ?column?\n----------\n        1")],
    "sqlcmd": [
        ("SELECT @@VERSION", "Microsoft SQL Server"),
        ("SELECT name FROM sys.databases", "name\n----\nmaster"),
    ],
    "device": [("show clock", "*09:02:11.123 UTC Mon Feb 2 2026"), ("show version", "Version {host}")],
}


def baseline_kind(traits: dict[str, Any]) -> str:
    shell = str(traits.get("shell_type", "sh"))
    if shell in ("powershell", "cmd", "mysql", "psql", "sqlcmd"):
        return shell
    if shell.endswith("-cli"):
        return "device"
    return "sh"
