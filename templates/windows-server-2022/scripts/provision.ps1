# Provisioning for windows-server-2022, run by PowerShell over WinRM as the
# box's administrator: what a Vagrant base box of Windows is expected to have.
$ErrorActionPreference = 'Stop'

# No hibernation file (a disk-sized hiberfil.sys) and no sleep on a server box.
powercfg.exe /hibernate off
powercfg.exe /change monitor-timeout-ac 0
powercfg.exe /change standby-timeout-ac 0

# Vagrant talks WinRM: keep it up without a user logged on, and give it time.
Set-Service -Name WinRM -StartupType Automatic
winrm.cmd set winrm/config '@{MaxTimeoutms="1800000"}' | Out-Null

# No automatic logon in the box: it was only for the first logon's commands.
Remove-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon' `
    -Name DefaultPassword -ErrorAction SilentlyContinue
Set-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon' `
    -Name AutoAdminLogon -Value '0'

Write-Output 'provisioned: no hibernation, WinRM automatic, no automatic logon'
