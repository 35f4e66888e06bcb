# Cleanup for windows-server-2022 before the disk is exported: the component
# store reset, temporary files and event logs gone, free space zeroed so the
# compacted image stays small.
$ErrorActionPreference = 'Stop'

Dism.exe /Online /Cleanup-Image /StartComponentCleanup /ResetBase /Quiet
if ($LASTEXITCODE -ne 0) { throw "DISM component cleanup failed: exit code $LASTEXITCODE" }

Remove-Item -Path "$env:windir\Temp\*", "$env:TEMP\*" -Recurse -Force -ErrorAction SilentlyContinue
Get-WinEvent -ListLog * -ErrorAction SilentlyContinue | Where-Object { $_.RecordCount } |
    ForEach-Object { [System.Diagnostics.Eventing.Reader.EventLogSession]::GlobalSession.ClearLog($_.LogName) }

# Zeros over the free space, one 64 MiB block at a time, until the disk is nearly full.
$path = 'C:\zero.tmp'
$block = New-Object byte[] (64MB)
$stream = [System.IO.File]::OpenWrite($path)
try {
    while ((Get-PSDrive C).Free -gt 256MB) { $stream.Write($block, 0, $block.Length) }
} finally {
    $stream.Close()
    Remove-Item $path -Force
}
Write-Output 'cleaned: component store, temporary files, event logs; free space zeroed'
